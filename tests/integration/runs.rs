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
fn results_json_matches_its_schema_and_the_csv_and_show_prints_it() {
    let dir = workspace(&[("suite.yaml", &suite("Results file."))]);
    let run_dir = run(dir.path(), &[]);
    let results = crate::common::valid_results_json(&run_dir);
    assert_eq!((results["version"].as_u64(), results["seed"].as_u64()), (Some(1), Some(42)));
    assert_eq!(results["configs"]["wiki-lines"]["type"], "perplexity");
    assert_eq!(results["higher_is_better"]["wiki-lines"]["bits_per_byte"], false);
    assert!(results["gate"].is_null(), "not gated");
    // Every row of results.csv is in results.json, value, interval and n alike.
    let rows = lmgauge::store::read_results_csv(&run_dir.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 14);
    for r in &rows {
        let a = &results["results"][&r.task][&r.model][&r.metric];
        assert_eq!(a["value"].as_f64(), Some(r.value), "{r:?}");
        assert_eq!((a["ci_low"].as_f64(), a["ci_high"].as_f64()), (Some(r.ci_low), Some(r.ci_high)), "{r:?}");
        assert_eq!(a["n"].as_u64(), Some(r.n));
        assert_eq!(results["n-samples"][&r.task][&r.model].as_u64(), Some(r.n));
    }
    // Perplexity tasks compare no pairs; minimal pairs' McNemar rows are checked in
    // minimal_pairs.rs.
    assert_eq!(results["pairwise"], serde_json::json!([]));
    // The same suite and seed give the same results.json, apart from the manifest.
    let mut again = crate::common::valid_results_json(&run(dir.path(), &[]));
    let mut first = results.clone();
    assert_ne!(first["run_id"], again["run_id"]);
    for v in [&mut first, &mut again] {
        v["manifest"] = serde_json::Value::Null;
        v["run_id"] = serde_json::Value::Null;
    }
    assert_eq!(first, again);

    // `show`: a table per task with every model and metric; --json prints results.json itself.
    let o = lmgauge(dir.path(), &["show", run_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = crate::common::stdout(&o);
    assert!(text.starts_with("snap — run "), "{text}");
    for needle in ["wiki-lines (perplexity)", "wiki-docs (perplexity)", "kn4-lmplz", "word_perplexity", " *", "["] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let best = text.lines().find(|l| l.trim_start().starts_with("kn4 ")).unwrap();
    assert!(best.contains('*'), "the 4-gram has the lower perplexity: {best}");
    let o = lmgauge(dir.path(), &["show", run_dir.to_str().unwrap(), "--json"]);
    assert_eq!(o.stdout, std::fs::read(run_dir.join("results.json")).unwrap());
    let o = lmgauge(dir.path(), &["show", "out/snap/missing"]);
    assert_eq!(o.status.code(), Some(2));
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

#[test]
fn a_run_logs_its_progress_when_stderr_is_not_a_terminal() {
    let dir = workspace(&[("suite.yaml", &suite("Logs."))]);
    // -v logs every batch, so the test does not wait for the 10-second lines.
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out-dir", "out", "-v"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stderr(&o);
    for needle in [
        "INFO run ",
        "5 jobs of suite \"snap\"",
        "DEBUG planned job wiki-lines__kn2: to run",
        "INFO job wiki-lines__kn4: started",
        "INFO model kn4: loaded in ",
        "INFO job wiki-docs__kn2: 40/40 items (100.0%)",
        "items/s, ETA",
        "INFO job wiki-lines__kn4-lmplz: done, ",
        "(5 of 5 jobs finished)",
    ] {
        assert!(log.contains(needle), "{needle:?} missing from the log:\n{log}");
    }
    // Each line starts with the seconds since the command started.
    assert!(
        log.lines().all(|l| l.trim_start().split_once("s ").is_some_and(|(t, _)| t.parse::<f64>().is_ok())),
        "{log}"
    );
    // Without -v: no batch lines for jobs this short, but starts and ends; -q: nothing at all.
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out-dir", "out"]);
    let log = stderr(&o);
    assert!(log.contains("started") && log.contains("done") && !log.contains("DEBUG"), "{log}");
    let o = lmgauge(dir.path(), &["-q", "run-suite", "suite.yaml", "--out-dir", "out"]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "", "-q prints nothing but errors");
    let resumed = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out-dir", "out", "--resume"]);
    assert!(stderr(&resumed).contains("5 of 5 jobs finished before"), "{}", stderr(&resumed));
}

#[test]
fn env_says_what_runs_where_and_device_overrides_reach_libtorch_models_only() {
    let o = lmgauge(Path::new(env!("CARGO_MANIFEST_DIR")), &["env", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let env: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(env["command"], "env");
    assert_eq!(env["lmgauge"], env!("LMGAUGE_LONG_VERSION"));
    assert_eq!(env["libtorch"]["linked"], lmgauge::models::neural::ENABLED, "env runs where libtorch is linked");
    let devices = lmgauge::models::neural::cuda_device_count();
    assert_eq!(env["libtorch"]["cuda_devices"].as_u64(), Some(devices as u64));
    assert_eq!(env["device_auto"], if devices > 0 { "cuda:0" } else { "cpu" });
    assert!(env["cpu"]["threads"].as_u64().unwrap() >= 1);
    assert!(["portable", "avx2", "avx-vnni"].contains(&env["cpu"]["quantized_kernels"].as_str().unwrap()));
    assert_eq!(env["models"].as_array().unwrap().len(), 3);
    let text = crate::common::stdout(&lmgauge(Path::new(env!("CARGO_MANIFEST_DIR")), &["env"]));
    assert!(text.starts_with("lmgauge      0.1.0 (git ") && text.contains("device auto"), "{text}");

    // --device moves models computed through libtorch, never a GGUF file computed quantized.
    let tiny = fixture("gguf/tiny-llama.gguf");
    let gpt2 = fixture("neural/gpt2-safetensors");
    let dir = workspace(&[("t.txt", "a b c\n")]);
    let suite = format!(
        "version: 1\nname: d\nmodels:\n  - {{id: q, kind: causal, path: {}}}\n  - {{id: g, kind: causal, path: {}}}\ntasks:\n  - {{id: t, type: perplexity, dataset: {{path: t.txt}}, models: [q, g], metrics: [bits_per_byte]}}\n",
        tiny.display(),
        gpt2.display()
    );
    std::fs::write(dir.path().join("s.yaml"), suite).unwrap();
    let mut loaded = lmgauge::tasks::load_suite(&dir.path().join("s.yaml")).unwrap();
    assert_eq!(loaded.override_device(lmgauge::models::neural::DeviceChoice::Cuda(1)), vec!["g".to_owned()]);
    let o = lmgauge(dir.path(), &["run-suite", "s.yaml", "--out-dir", "out", "--device", "cuda:7"]);
    assert_eq!(o.status.code(), Some(2), "no machine here has 8 GPUs");
    assert!(stderr(&o).contains("--device cuda:7: g"), "{}", stderr(&o));
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/d/latest/jobs/t__g.json")).unwrap()).unwrap();
    assert!(job["error"].as_str().unwrap().contains("cuda:7"), "{job}");
}
