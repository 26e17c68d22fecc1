//! Whole runs through the binary: outputs, determinism, resume after an interrupted run, failing
//! jobs, HTML escaping, re-rendering, and snapshots of summary.md and results.csv.

use std::path::{Path, PathBuf};

use crate::common::{fixture, lmgauge, stderr, workspace};

fn suite(extra_description: &str) -> String {
    let train = fixture("kenlm/wiki-train.txt");
    let test = fixture("kenlm/wiki-query.txt");
    format!(
        "version: 1
name: snap
description: {extra_description}
seed: 42
bootstrap: 200
models:
  - id: kn2
    kind: ngram
    train: {train}
    order: 2
    skip_symbols: true
  - id: kn4
    kind: ngram
    train: {train}
    order: 4
    skip_symbols: true
  - id: kn4-lmplz
    kind: ngram
    description: the same 4-gram as written by KenLM lmplz
    arpa: {arpa}
tasks:
  - id: wiki-lines
    type: perplexity
    dataset: {{path: {test}, unit: line}}
    models: [kn2, kn4, kn4-lmplz]
    metrics: [bits_per_byte, word_perplexity, byte_perplexity, token_perplexity]
  - id: wiki-docs
    type: perplexity
    dataset: {{path: {test}, unit: document, limit: 40}}
    models: [kn2, kn4]
    metrics: [bits_per_byte]
",
        train = train.display(),
        test = test.display(),
        arpa = fixture("kenlm/wiki-4.arpa.gz").display(),
    )
}

fn run(dir: &Path, args: &[&str]) -> PathBuf {
    let mut all = vec!["run-suite", "suite.yaml", "--out", "out"];
    all.extend_from_slice(args);
    let o = lmgauge(dir, &all);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::canonicalize(dir.join("out/snap/latest")).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn run_writes_every_output_and_matches_snapshots() {
    let dir = workspace(&[("suite.yaml", &suite("Snapshot suite."))]);
    let run_dir = run(dir.path(), &[]);
    for f in ["results.csv", "items.parquet", "run.json", "summary.md", "index.html"] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let manifest: serde_json::Value = serde_json::from_str(&read(&run_dir.join("run.json"))).unwrap();
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["seed"], 42);
    assert!(manifest["dependencies"].as_array().unwrap().iter().any(|d| d[0] == "polars"));
    let summary = read(&run_dir.join("summary.md"));
    let csv = read(&run_dir.join("results.csv"));
    // The ARPA written by lmplz and our own 4-gram give the same numbers.
    let lines: Vec<&str> = csv.lines().collect();
    let ours: Vec<&str> =
        lines.iter().filter(|l| l.starts_with("wiki-lines,kn4,")).map(|l| l.split_once(",kn4,").unwrap().1).collect();
    let lmplz: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("wiki-lines,kn4-lmplz,"))
        .map(|l| l.split_once(",kn4-lmplz,").unwrap().1)
        .collect();
    assert_eq!(ours, lmplz);
    // The suite file embeds absolute fixture paths, so its hash is machine-specific.
    let summary = summary.replace(&manifest["suite_hash"].as_str().unwrap()[..12], "<hash>");
    insta::assert_snapshot!("summary_md", summary);
    insta::assert_snapshot!("results_csv", csv);
}

#[test]
fn same_suite_and_seed_give_identical_csv() {
    let dir = workspace(&[("suite.yaml", &suite("Determinism."))]);
    let first = read(&run(dir.path(), &[]).join("results.csv"));
    let second_dir = run(dir.path(), &[]);
    assert_ne!(second_dir.file_name(), None);
    assert_eq!(first, read(&second_dir.join("results.csv")));
    let other_seed = read(&run(dir.path(), &["--seed", "7"]).join("results.csv"));
    assert_ne!(first, other_seed, "a different seed must change the intervals");
}

#[test]
fn resume_recomputes_only_unfinished_jobs() {
    let dir = workspace(&[("suite.yaml", &suite("Resume."))]);
    let reference = read(&run(dir.path(), &[]).join("results.csv"));
    // Simulate a run killed after some jobs: keep one job's record, drop the rest and the outputs.
    let run_dir = run(dir.path(), &[]);
    let jobs = run_dir.join("jobs");
    let kept = jobs.join("wiki-lines__kn2.json");
    let mut record: serde_json::Value = serde_json::from_str(&read(&kept)).unwrap();
    record["seconds"] = serde_json::json!(12345.0);
    std::fs::write(&kept, serde_json::to_vec(&record).unwrap()).unwrap();
    for entry in std::fs::read_dir(&jobs).unwrap() {
        let p = entry.unwrap().path();
        if p != kept {
            std::fs::remove_file(p).unwrap();
        }
    }
    for f in ["results.csv", "items.parquet", "summary.md", "index.html"] {
        std::fs::remove_file(run_dir.join(f)).unwrap();
    }
    let resumed = run(dir.path(), &["--resume"]);
    assert_eq!(resumed, run_dir, "--resume continues the newest run");
    assert_eq!(read(&resumed.join("results.csv")), reference);
    let manifest: serde_json::Value = serde_json::from_str(&read(&resumed.join("run.json"))).unwrap();
    let kn2 =
        manifest["jobs"].as_array().unwrap().iter().find(|j| j["task"] == "wiki-lines" && j["model"] == "kn2").unwrap();
    assert_eq!(kn2["seconds"], 12345.0, "the finished job was not recomputed");
    assert_eq!(kn2["resumed"], true);
    // The trained models were cached beside the run and reused.
    assert!(std::fs::read_dir(resumed.join("models")).unwrap().count() >= 2);
}

#[test]
fn resume_after_a_real_kill() {
    let dir = workspace(&[("suite.yaml", &suite("Kill."))]);
    let reference = read(&run(dir.path(), &[]).join("results.csv"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge"))
        .current_dir(dir.path())
        .args(["run-suite", "suite.yaml", "--out", "killed"])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 30 {
        let n = std::fs::read_dir(dir.path().join("killed/snap/latest/jobs")).map(|d| d.count()).unwrap_or(0);
        if n >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "killed", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&dir.path().join("killed/snap/latest/results.csv")), reference);
}

#[test]
fn a_failing_job_is_recorded_and_others_still_run() {
    let broken = "\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<s>\n-1\t</s>\n";
    let suite = suite("Failure.").replace(&fixture("kenlm/wiki-4.arpa.gz").display().to_string(), "broken.arpa");
    let dir = workspace(&[("suite.yaml", &suite), ("broken.arpa", broken)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("kn4-lmplz") && err.contains("broken.arpa"), "{err}");
    let run_dir = std::fs::canonicalize(dir.path().join("out/snap/latest")).unwrap();
    let csv = read(&run_dir.join("results.csv"));
    assert!(csv.contains("wiki-lines,kn4,") && !csv.contains("kn4-lmplz"));
    let manifest: serde_json::Value = serde_json::from_str(&read(&run_dir.join("run.json"))).unwrap();
    assert_eq!(manifest["status"], "failed");
    assert!(read(&run_dir.join("summary.md")).contains("## Failed jobs"));
    // Fix the file: --resume computes only the failed job and succeeds.
    std::fs::copy(fixture("kenlm/wiki-4.arpa.gz"), dir.path().join("broken.arpa")).unwrap();
    let kn2_before = read(&run_dir.join("jobs/wiki-lines__kn2.json"));
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&run_dir.join("jobs/wiki-lines__kn2.json")), kn2_before);
    assert!(read(&run_dir.join("results.csv")).contains("kn4-lmplz"));
}

#[test]
fn html_escapes_data_and_report_rerenders() {
    let evil = "\"<script>alert('x')</script> & <img src=x onerror=alert(1)>\"";
    let s = suite(evil)
        .replace("description: the same 4-gram as written by KenLM lmplz", "description: \"<b>bold</b> model\"");
    let dir = workspace(&[("suite.yaml", &s)]);
    let run_dir = run(dir.path(), &[]);
    let html = read(&run_dir.join("index.html"));
    // The one script is the page's own table sorter.
    assert_eq!(html.matches("<script>").count(), 1, "unescaped data in HTML");
    assert!(
        !html.contains("alert('x')") && !html.contains("<img") && !html.contains("<b>bold"),
        "unescaped data in HTML"
    );
    assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#60;img"));
    assert!(html.contains("&#60;b&#62;bold&#60;/b&#62; model"));
    assert!(html.contains("<svg"), "charts are inline SVG");
    let summary = read(&run_dir.join("summary.md"));
    std::fs::remove_file(run_dir.join("index.html")).unwrap();
    std::fs::remove_file(run_dir.join("summary.md")).unwrap();
    let o = lmgauge(dir.path(), &["report", run_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&run_dir.join("index.html")), html);
    assert_eq!(read(&run_dir.join("summary.md")), summary);
}

#[test]
fn resume_refuses_a_changed_suite() {
    let dir = workspace(&[("suite.yaml", &suite("One."))]);
    run(dir.path(), &[]);
    std::fs::write(dir.path().join("suite.yaml"), suite("Two.")).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--resume"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("suite file changed"), "{}", stderr(&o));
}

#[test]
fn only_and_models_filters() {
    let dir = workspace(&[("suite.yaml", &suite("Filter."))]);
    let run_dir = run(dir.path(), &["--only", "wiki-docs", "--models", "kn4"]);
    let csv = read(&run_dir.join("results.csv"));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--only", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no task \"nope\""));
}
