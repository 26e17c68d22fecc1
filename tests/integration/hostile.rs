//! Hostile and careless input (issue #16): every case of the committed corpus in tests/hostile/
//! (written by scripts/hostile-corpus.py) ends with the exit code it names and an error naming
//! file, line and field; never a panic. The cases that need runs, resumes or inputs too large to
//! commit are built here: CRLF parity, baselines that disagree with their items, gating across
//! suites, job keys that used to collide, and memory bounds on long lines and large GGUF arrays.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::common::{fixture, lmgauge, repo, stderr, stdout, workspace};

fn corpus() -> PathBuf {
    repo().join("tests/hostile")
}

#[test]
fn every_corpus_case_ends_as_it_should() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("cases.json")).expect("cases.json")).expect("JSON");
    assert!(cases.len() >= 25, "the corpus lost cases");
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let argv: Vec<&str> = c["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let out = lmgauge(&corpus().join("cases").join(name), &argv);
        let (err, text) = (stderr(&out), stdout(&out));
        let want = c["exit"].as_i64().unwrap() as i32;
        let seen = if want == 0 { &text } else { &err };
        let missing: Vec<&str> =
            c["expect"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).filter(|e| !seen.contains(e)).collect();
        if out.status.code() != Some(want) || !missing.is_empty() || err.contains("panicked") {
            failures.push(format!(
                "{name} (class {}): exit {:?}, wanted {want}; missing {missing:?}\nstderr: {err}",
                c["class"],
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Forks and execs its arguments from a small process and writes the child's peak resident
/// memory (KiB) to `$PEAK_RSS_FILE`, exiting with the child's code. Linux carries a process's
/// largest address space across exec, so a child spawned straight from this test binary —
/// which other tests running beside it fill with model weights — would report the test
/// binary's peak, not its own; a child forked from this small interpreter does not.
const MEASURE: &str = "import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status = os.waitpid(pid, 0)
open(os.environ['PEAK_RSS_FILE'], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))";

/// Runs lmgauge and returns (exit code, stdout, stderr, peak resident memory in MB).
fn measured(cwd: &Path, args: &[&str]) -> (i32, String, String, f64) {
    let dir = tempfile::tempdir().unwrap();
    let (o, e, peak) = (dir.path().join("out"), dir.path().join("err"), dir.path().join("peak"));
    let status = Command::new("python3")
        .arg("-c")
        .arg(MEASURE)
        .arg(env!("CARGO_BIN_EXE_lmgauge"))
        .args(args)
        .current_dir(cwd)
        .env("CI", "1")
        .env("PEAK_RSS_FILE", &peak)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("python3 runs lmgauge");
    let kib: f64 = std::fs::read_to_string(&peak).expect("peak memory written").trim().parse().unwrap();
    let code = status.code().unwrap_or(-1);
    (code, std::fs::read_to_string(o).unwrap(), std::fs::read_to_string(e).unwrap(), kib / 1024.0)
}

#[test]
fn crlf_text_scores_as_lf_text() {
    let wiki = std::fs::read_to_string(repo().join("data/wikitext-2/test.txt")).unwrap();
    let lf: String = wiki.lines().take(200).map(|l| format!("{l}\n")).collect();
    let crlf = lf.replace('\n', "\r\n");
    let dir = workspace(&[("lf.txt", &lf), ("crlf.txt", &crlf)]);
    let arpa = fixture("kenlm/wiki-3.arpa.gz");
    for unit in ["line", "document", "file"] {
        let run = |f: &str| {
            let out = lmgauge(
                dir.path(),
                &["perplexity", "--model", arpa.to_str().unwrap(), "--input", f, "--unit", unit, "--json"],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
            (v["bytes"].as_f64().unwrap(), v["bits_per_byte"].as_f64().unwrap(), v["nll"].as_f64().unwrap())
        };
        assert_eq!(run("lf.txt"), run("crlf.txt"), "unit {unit}");
    }
}

#[test]
fn chrf_of_one_long_line_stays_in_bounded_memory() {
    // 6 MB of prose on one line: the counts of its distinct n-grams, not of its 6 × 6M windows.
    let moby = std::fs::read_to_string(repo().join("tests/fixtures/kenlm/moby-train.txt")).unwrap();
    let mut line = String::new();
    while line.len() < 6_000_000 {
        line.push_str(&moby.replace('\n', " "));
    }
    line.push('\n');
    let dir = workspace(&[("ref.txt", &line), ("hyp.txt", &line.replacen("whale", "fish", 1000))]);
    let (code, out, err, mb) = measured(dir.path(), &["chrf", "-r", "ref.txt", "-i", "hyp.txt", "--json"]);
    assert_eq!(code, 0, "{err}");
    let score = serde_json::from_str::<Value>(&out).unwrap()["systems"][0]["score"].as_f64().unwrap();
    assert!(score > 90.0 && score < 100.0, "{score}");
    assert!(mb < 400.0, "chrF of a 6 MB line peaked at {mb:.0} MB (it reserved a slot per window: 740 MB)");
}

/// A GGUF file with one u8 metadata array of `n` bytes and no tensors.
fn gguf_with_u8_array(n: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // key/values
    let key = b"general.blob";
    b.extend((key.len() as u64).to_le_bytes());
    b.extend(key);
    b.extend(9u32.to_le_bytes()); // array
    b.extend(0u32.to_le_bytes()); // of u8
    b.extend((n as u64).to_le_bytes());
    b.extend(std::iter::repeat_n(7u8, n));
    b
}

#[test]
fn a_large_gguf_metadata_array_costs_its_own_size() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blob.gguf"), gguf_with_u8_array(60 << 20)).unwrap();
    let (code, out, err, mb) = measured(dir.path(), &["models", "blob.gguf"]);
    // The file has no architecture: `models` describes it and says why it would not load.
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[62914560 values]"), "{out}");
    // 60 MB mapped plus one 60 MB vector, not the 2.1 GB of one enum per byte.
    assert!(mb < 400.0, "peak {mb:.0} MB for a 60 MB file");
}

const SUITE: &str = "version: 1\nname: keys\nbootstrap: 20\nmodels:\n  - {id: m__x, kind: ngram, train: train.txt, order: 2, skip_symbols: true}\n  - {id: x, kind: ngram, train: train.txt, order: 3, skip_symbols: true}\ntasks:\n  - {id: a, type: perplexity, dataset: {path: text.txt}, models: [m__x], metrics: [bits_per_byte]}\n  - {id: a__m, type: perplexity, dataset: {path: text.txt}, models: [x], metrics: [bits_per_byte]}\n";

/// A folder holding the key suite (`SUITE`), its training text and its test text.
fn key_suite() -> tempfile::TempDir {
    let train = std::fs::read_to_string(fixture("kenlm/wiki-train.txt")).unwrap();
    workspace(&[("suite.yaml", SUITE), ("train.txt", &train), ("text.txt", &train[..4000])])
}

#[test]
fn job_keys_that_used_to_collide_keep_both_results_across_resume() {
    let dir = key_suite();
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "reports"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = std::fs::read_to_string(dir.path().join("reports/keys/latest/results.csv")).unwrap();
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "reports", "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = std::fs::read_to_string(dir.path().join("reports/keys/latest/results.csv")).unwrap();
    assert_eq!(first, again);
    let rows: Vec<&str> = again.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{again}");
    assert!(rows[0].starts_with("a,m__x,") && rows[1].starts_with("a__m,x,"), "{again}");
    assert_ne!(rows[0].split(',').nth(3), rows[1].split(',').nth(3), "orders 2 and 3 score differently");
}

/// Runs the key suite, saves its baseline, checks that the untouched baseline gates, edits the
/// baseline's JSON with `edit`, and gates again: (exit code, stderr).
fn gate_against_edited_baseline(edit: impl FnOnce(&mut Value)) -> (Option<i32>, String) {
    let dir = key_suite();
    let gate = || lmgauge(dir.path(), &["gate", "reports/keys/latest", "--baseline", "base/keys.json"]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "reports"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lmgauge(dir.path(), &["baseline", "save", "reports/keys/latest", "--to", "base/keys.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = gate();
    assert_eq!(out.status.code(), Some(0), "an untouched baseline gates: {}", stderr(&out));
    let base = dir.path().join("base/keys.json");
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    edit(&mut b);
    std::fs::write(&base, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    let out = gate();
    (out.status.code(), stderr(&out))
}

#[test]
fn a_baseline_whose_values_disagree_with_its_items_is_refused() {
    let (code, err) = gate_against_edited_baseline(|b| {
        let v = b["entries"][1]["value"].as_f64().unwrap();
        b["entries"][1]["value"] = serde_json::json!(v * 1.5);
    });
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("keys.json")
            && err.contains("keys.items.json.gz")
            && err.contains("bits_per_byte of x on a__m")
            && err.contains("disagree"),
        "{err}"
    );
}

#[test]
fn gating_against_another_suites_baseline_names_both_suites() {
    let (code, err) = gate_against_edited_baseline(|b| b["suite"] = serde_json::json!("other"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("suite \"other\"") && err.contains("suite \"keys\""), "{err}");
}
