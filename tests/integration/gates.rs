//! Regression gates (baseline save, gate verdicts, tolerance bands, outputs), run history, and
//! sharded runs merged back into one.

use std::path::{Path, PathBuf};

use crate::common::{fixture, lmgauge, repo, stderr, stdout, workspace};

fn suite(kn_order: u32, kit_path: &str, gates: &str) -> String {
    let train = fixture("kenlm/wiki-train.txt").display().to_string();
    let test = fixture("kenlm/wiki-query.txt").display().to_string();
    let wmt = |f: &str| repo().join("data/wmt17-en-de").join(f).display().to_string();
    format!(
        "version: 1
name: g
seed: 5
bootstrap: 200
models:
  - {{id: kn, kind: ngram, train: {train}, order: {kn_order}, skip_symbols: true}}
  - {{id: kn2, kind: ngram, train: {train}, order: 2, skip_symbols: true}}
  - {{id: uedin, kind: outputs, path: {uedin}}}
  - {{id: kit, kind: outputs, path: {kit_path}}}
tasks:
  - id: wiki
    type: perplexity
    dataset: {{path: {test}, unit: line}}
    models: [kn, kn2]
    metrics: [bits_per_byte, word_perplexity]
  - id: wmt
    type: reference
    dataset: {{path: {reference}, limit: 400}}
    models: [uedin, kit]
    metrics: [bleu, chrf]
{gates}",
        uedin = wmt("newstest2017.uedin-nmt.4722.hyp.de"),
        reference = wmt("newstest2017.ref.de"),
    )
}

fn kit() -> String {
    repo().join("data/wmt17-en-de/newstest2017.KIT.4950.hyp.de").display().to_string()
}

fn run(dir: &Path, extra: &[&str]) -> (i32, PathBuf, String) {
    let mut args = vec!["run-suite", "suite.yaml", "--out", "out", "--quiet"];
    args.extend_from_slice(extra);
    let o = lmgauge(dir, &args);
    let run = std::fs::canonicalize(dir.join("out/g/latest")).unwrap();
    (o.status.code().unwrap_or(-1), run, format!("{}{}", stdout(&o), stderr(&o)))
}

fn verdicts(run: &Path) -> Vec<(String, String, String, String)> {
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("gate.json")).unwrap()).unwrap();
    g["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("task"), s("model"), s("metric"), s("verdict"))
        })
        .collect()
}

fn with_baseline(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = workspace(files);
    let (code, run, out) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    let o = lmgauge(dir.path(), &["baseline", "save", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("baselines/g.json").is_file() && dir.path().join("baselines/g.items.json.gz").is_file());
    dir
}

#[test]
fn identical_rerun_is_within_noise_and_outputs_match_snapshots() {
    let dir = with_baseline(&[("suite.yaml", &suite(3, &kit(), ""))]);
    let summary_file = dir.path().join("step-summary.md");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge"))
        .current_dir(dir.path())
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .args(["run-suite", "suite.yaml", "--out", "out", "--quiet", "--gate", "baselines/g.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = std::fs::canonicalize(dir.path().join("out/g/latest")).unwrap();
    let v = verdicts(&run);
    assert_eq!(v.len(), 8);
    assert!(v.iter().all(|e| e.3 == "WithinNoise"), "{v:?}");
    assert!(std::fs::read_to_string(&summary_file).unwrap().contains("lmgauge gate: g — ✅ passed"));
    assert!(std::fs::read_to_string(run.join("index.html")).unwrap().contains("Gate: passed"));
    let results = crate::common::valid_results_json(&run);
    assert_eq!(results["gate"]["passed"], true);
    assert_eq!(results["gate"]["counts"]["WithinNoise"], 8);
    assert_eq!(results["gate"]["entries"].as_array().unwrap().len(), 8);
    // Snapshots: run ids and temporary paths vary; the rest is deterministic.
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("baselines/g.json")).unwrap()).unwrap();
    let redact = |s: String| {
        s.replace(run.file_name().unwrap().to_str().unwrap(), "<run>")
            .replace(base["run_id"].as_str().unwrap(), "<baseline-run>")
    };
    insta::assert_snapshot!("gate_md", redact(std::fs::read_to_string(run.join("gate.md")).unwrap()));
    insta::assert_snapshot!("gate_junit_xml", redact(std::fs::read_to_string(run.join("gate.junit.xml")).unwrap()));
}

#[test]
fn a_lower_order_model_and_corrupted_outputs_regress() {
    let corrupted: String = std::fs::read_to_string(kit())
        .unwrap()
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            words[..words.len() / 2].join(" ") + "\n"
        })
        .collect();
    let dir = with_baseline(&[("suite.yaml", &suite(3, &kit(), "")), ("kit-bad.txt", &corrupted)]);
    std::fs::write(dir.path().join("suite.yaml"), suite(1, "kit-bad.txt", "")).unwrap();
    let (code, run, out) = run(dir.path(), &["--gate", "baselines/g.json"]);
    assert_eq!(code, 1, "{out}");
    let v = verdicts(&run);
    let verdict =
        |t: &str, m: &str, metric: &str| v.iter().find(|e| e.0 == t && e.1 == m && e.2 == metric).unwrap().3.clone();
    assert_eq!(verdict("wiki", "kn", "bits_per_byte"), "Regressed");
    assert_eq!(verdict("wiki", "kn", "word_perplexity"), "Regressed");
    assert_eq!(verdict("wiki", "kn2", "bits_per_byte"), "WithinNoise");
    assert_eq!(verdict("wmt", "kit", "bleu"), "Regressed");
    assert_eq!(verdict("wmt", "uedin", "chrf"), "WithinNoise");
    let md = std::fs::read_to_string(run.join("gate.md")).unwrap();
    assert!(md.contains("❌ failed") && md.contains("suite file changed"), "{md}");
    let junit = std::fs::read_to_string(run.join("gate.junit.xml")).unwrap();
    assert_eq!(verdict("wmt", "kit", "chrf"), "Regressed");
    assert!(junit.contains("failures=\"4\"") && junit.contains("<failure"), "{junit}");
    // A band wider than the change lets it through.
    std::fs::write(dir.path().join("policy.yaml"), "default: {relative: 10}\n").unwrap();
    let o = lmgauge(
        dir.path(),
        &["gate", run.to_str().unwrap(), "--baseline", "baselines/g.json", "--policy", "policy.yaml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(verdicts(&run).iter().all(|e| e.3 == "WithinNoise"));
}

#[test]
fn a_better_model_improves_and_tolerances_come_from_the_suite() {
    let dir = with_baseline(&[("suite.yaml", &suite(1, &kit(), ""))]);
    std::fs::write(
        dir.path().join("suite.yaml"),
        suite(3, &kit(), "gates:\n  metrics:\n    word_perplexity: {absolute: 100000}\n"),
    )
    .unwrap();
    let (code, run, out) = run(dir.path(), &["--gate", "baselines/g.json"]);
    assert_eq!(code, 0, "{out}");
    let v = verdicts(&run);
    let verdict = |metric: &str| v.iter().find(|e| e.1 == "kn" && e.2 == metric).unwrap().3.clone();
    assert_eq!(verdict("bits_per_byte"), "Improved");
    assert_eq!(verdict("word_perplexity"), "WithinNoise", "the suite's band for word_perplexity is huge");
}

#[test]
fn missing_and_new_entries_are_reported() {
    let dir = with_baseline(&[("suite.yaml", &suite(3, &kit(), ""))]);
    let changed = suite(3, &kit(), "").replace("metrics: [bleu, chrf]", "metrics: [bleu, chrf++]");
    std::fs::write(dir.path().join("suite.yaml"), changed).unwrap();
    let (code, run, _) = run(dir.path(), &["--gate", "baselines/g.json"]);
    assert_eq!(code, 1, "a missing metric fails by default");
    let v = verdicts(&run);
    assert!(v.iter().any(|e| e.2 == "chrf" && e.3 == "Missing"));
    assert!(v.iter().any(|e| e.2 == "chrf++" && e.3 == "New"));
    std::fs::write(dir.path().join("p.yaml"), "fail_on_missing: false\n").unwrap();
    let o =
        lmgauge(dir.path(), &["gate", run.to_str().unwrap(), "--baseline", "baselines/g.json", "--policy", "p.yaml"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_missing_baseline_says_how_to_create_it() {
    let dir = workspace(&[("suite.yaml", &suite(2, &kit(), ""))]);
    let (code, run, _) = run(dir.path(), &[]);
    assert_eq!(code, 0);
    let o = lmgauge(dir.path(), &["gate", run.to_str().unwrap(), "--baseline", "baselines/none.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("lmgauge baseline save"), "{}", stderr(&o));
}

#[test]
fn shards_merge_into_the_unsharded_run_and_history_collects_runs() {
    let dir = workspace(&[("suite.yaml", &suite(3, &kit(), ""))]);
    let (code, full, _) = run(dir.path(), &[]);
    assert_eq!(code, 0);
    // Three shards, run concurrently as separate processes.
    let children: Vec<_> = (1..=3)
        .map(|k| {
            std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge"))
                .current_dir(dir.path())
                .args([
                    "run-suite",
                    "suite.yaml",
                    "--quiet",
                    "--out",
                    &format!("shard{k}"),
                    "--shard",
                    &format!("{k}/3"),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect::<Vec<_>>();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let shard_dirs: Vec<String> = (1..=3)
        .map(|k| std::fs::canonicalize(dir.path().join(format!("shard{k}/g/latest"))).unwrap().display().to_string())
        .collect();
    let mut args = vec!["merge"];
    args.extend(shard_dirs.iter().map(String::as_str));
    args.extend(["--out", "merged/g/merged"]);
    let o = lmgauge(dir.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = dir.path().join("merged/g/merged");
    for f in ["results.csv", "pairwise.csv"] {
        assert_eq!(std::fs::read(full.join(f)).unwrap(), std::fs::read(merged.join(f)).unwrap(), "{f} differs");
    }
    // A shard set that misses a job is refused.
    let o = lmgauge(dir.path(), &["merge", &shard_dirs[0], "--out", "merged/g/partial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("do not cover every job"), "{}", stderr(&o));
    // History: both full runs of the suite (shards excluded), as CSV and Parquet.
    let (code, _, _) = run(dir.path(), &[]);
    assert_eq!(code, 0);
    let o = lmgauge(dir.path(), &["history", "out/g"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("out/g/history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 8, "{csv}");
    let o = lmgauge(dir.path(), &["history", "out/g", "--out", "h.parquet"]);
    assert!(o.status.success() && dir.path().join("h.parquet").is_file());
    let latest = std::fs::canonicalize(dir.path().join("out/g/latest")).unwrap();
    assert!(std::fs::read_to_string(latest.join("index.html")).unwrap().contains("<h2>History</h2>"));
}
