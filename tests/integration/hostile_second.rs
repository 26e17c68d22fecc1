//! Hostile input, second round (issue #33), through the binary: the newer parts (minimal pairs,
//! multiple choice, binary n-gram files, GGUF keys and tokenizers, reference-task significance,
//! gates and baselines, run folders written concurrently, terminal and spreadsheet output) end in
//! a correct result or a clear error, never a wrong number with exit 0, a crash or lost results.
//! Each test failed on the code before the fix.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use lmgauge::models::neural::gguf::{Gguf, MetaArray, MetaValue, write};
use serde_json::Value;

use crate::common::{fixture, lmgauge, repo, stderr, stdout, workspace};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(bytes).unwrap();
    w.finish().unwrap()
}

/// A suite of one likelihood-comparison task (`task` is its YAML after `type:`) judged by a
/// WikiText-2 trigram, in `dir`; runs it and returns (exit code, stderr).
fn run_task(dir: &Path, task: &str) -> (Option<i32>, String) {
    let arpa = fixture("kenlm/wiki-3.arpa.gz");
    let suite = format!(
        "version: 1\nname: h\nbootstrap: 20\nmodels:\n  - {{id: kn3, kind: ngram, arpa: {}}}\ntasks:\n  - id: t\n    type: {task}\n    models: [kn3]\n",
        arpa.display()
    );
    std::fs::write(dir.join("suite.yaml"), suite).unwrap();
    let o = lmgauge(dir, &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    (o.status.code(), stderr(&o))
}

const PAIR: &str = "{\"sentence_good\": \"Dogs bark.\", \"sentence_bad\": \"Dogs barks.\", \"UID\": \"agr\"}\n";

#[test]
fn a_folder_with_two_files_of_one_stem_is_refused() {
    let dir = workspace(&[("pairs/a.jsonl", PAIR)]);
    std::fs::write(dir.path().join("pairs/a.jsonl.gz"), gz(PAIR.as_bytes())).unwrap();
    let (code, err) = run_task(
        dir.path(),
        "minimal-pairs\n    dataset: {path: pairs}\n    metrics: [accuracy]\n    group_fields: [UID]",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("a.jsonl and a.jsonl.gz") && err.contains("a:1"), "{err}");
}

#[test]
fn multiple_choice_text_fields_must_be_text() {
    let q = |context: &str, choices: &str| format!("{{\"context\": {context}, \"choices\": {choices}, \"gold\": 0}}\n");
    for (context, choices, words) in [
        ("null", "[\"a\", \"b\"]", "field \"context\" must be text (a JSON string), found null"),
        ("5", "[\"a\", \"b\"]", "field \"context\" must be text (a JSON string), found a number"),
        ("true", "[\"a\", \"b\"]", "field \"context\" must be text (a JSON string), found a boolean"),
        ("\"The cat\"", "[\"sat\", \"  \"]", "choice 1 is only whitespace"),
    ] {
        let dir = workspace(&[("q.jsonl", &q(context, choices))]);
        let (code, err) = run_task(dir.path(), "multiple-choice\n    dataset: {path: q.jsonl}\n    metrics: [acc]");
        assert_eq!(code, Some(2), "{context} {choices}: {err}");
        assert!(err.contains("q.jsonl:1") && err.contains(words), "{context} {choices}: {err}");
    }
}

#[test]
fn a_gzip_bomb_of_one_line_is_refused_in_bounded_memory() {
    // 1 GiB on one line compresses to about a megabyte.
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..1024 {
        w.write_all(&chunk).unwrap();
    }
    let dir = workspace(&[]);
    std::fs::write(dir.path().join("q.jsonl.gz"), w.finish().unwrap()).unwrap();
    let (code, err) = run_task(dir.path(), "multiple-choice\n    dataset: {path: q.jsonl.gz}\n    metrics: [acc]");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("q.jsonl.gz:1") && err.contains("longer than 64 MiB"), "{err}");
}

/// (header end, unigram table start, per order 2..=N (slot table start, slots)) of a binary file.
fn binary_layout(b: &[u8]) -> (usize, usize, Vec<(usize, usize)>) {
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let order = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    let (words, slots, blob) = (u64_at(16), u64_at(32), u64_at(40));
    let header = 56 + 16 * (order - 1);
    let round = |x: usize| x.next_multiple_of(8);
    let vocab = header + round((words + 1) * 8) + round(blob);
    let unigrams = vocab + round(slots * 4);
    let mut at = unigrams + round(words * 8);
    let mut tables = Vec::new();
    for k in 0..order - 1 {
        let n = u64_at(56 + 16 * k);
        tables.push((at, n));
        at += n * 16;
    }
    (header, unigrams, tables)
}

/// A change to a file's bytes.
type Edit<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;

fn reseal(b: &mut [u8]) {
    let header = binary_layout(b).0;
    let crc = crc32fast::hash(&b[header..]);
    b[48..52].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn binary_ngram_files_are_refused_for_what_arpa_files_are_refused_for() {
    let dir = workspace(&[("t.txt", "looking on a little more loin\n")]);
    let good = dir.path().join("good.lmgauge-ngram");
    let o = lmgauge(
        &repo(),
        &["ngram", "build", "--arpa", fixture("kenlm/test.arpa").to_str().unwrap(), "--out", good.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&good).unwrap();
    let (_, unigrams, tables) = binary_layout(&bytes);
    let first_slot = |(start, slots): (usize, usize)| {
        (0..slots).map(|i| start + 16 * i).find(|&at| bytes[at..at + 8] != [0xff; 8]).expect("a filled slot")
    };
    let (bigram, top) = (first_slot(tables[0]), first_slot(*tables.last().unwrap()));
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "positive unigram",
            Box::new(|b| b[unigrams + 8 * 3..unigrams + 8 * 3 + 4].copy_from_slice(&0.5f32.to_le_bytes())),
            "log10 probability 0.5",
        ),
        (
            "NaN unigram",
            Box::new(|b| b[unigrams + 8 * 3..unigrams + 8 * 3 + 4].copy_from_slice(&f32::NAN.to_le_bytes())),
            "log10 probability NaN",
        ),
        (
            "infinite backoff",
            Box::new(|b| b[unigrams + 8 * 3 + 4..unigrams + 8 * 3 + 8].copy_from_slice(&f32::INFINITY.to_le_bytes())),
            "log10 backoff inf",
        ),
        (
            "positive bigram",
            Box::new(move |b| b[bigram + 8..bigram + 12].copy_from_slice(&2.0f32.to_le_bytes())),
            "2-gram slot",
        ),
        (
            "top-order backoff",
            Box::new(move |b| b[top + 12..top + 16].copy_from_slice(&(-0.3f32).to_le_bytes())),
            "0 on the top order",
        ),
        (
            "empty vocabulary slots",
            Box::new(|b| {
                let vocab =
                    unigrams - (u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize * 4).next_multiple_of(8);
                let end = unigrams;
                b[vocab..end].fill(0);
            }),
            "vocabulary slots are filled",
        ),
    ];
    let bad = dir.path().join("bad.lmgauge-ngram");
    for (what, edit, words) in edits {
        let mut d = bytes.clone();
        edit(&mut d);
        reseal(&mut d);
        std::fs::write(&bad, &d).unwrap();
        let o = lmgauge(dir.path(), &["perplexity", "--model", "bad.lmgauge-ngram", "--input", "t.txt"]);
        assert_eq!(o.status.code(), Some(2), "{what}: accepted: {}", stdout(&o));
        assert!(stderr(&o).contains("bad.lmgauge-ngram: ") && stderr(&o).contains(words), "{what}: {}", stderr(&o));
    }
    // Two vocabulary slots swapped: every word is still there, but not where its hash leads.
    let mut d = bytes.clone();
    let slots = u64::from_le_bytes(d[32..40].try_into().unwrap()) as usize;
    let vocab = unigrams - (slots * 4).next_multiple_of(8);
    let filled: Vec<usize> = (0..slots).filter(|i| d[vocab + 4 * i..vocab + 4 * i + 4] != [0; 4]).collect();
    for k in 0..4 {
        d.swap(vocab + 4 * filled[0] + k, vocab + 4 * filled[1] + k);
    }
    reseal(&mut d);
    std::fs::write(&bad, &d).unwrap();
    let o = lmgauge(dir.path(), &["perplexity", "--model", "bad.lmgauge-ngram", "--input", "t.txt"]);
    assert_eq!(o.status.code(), Some(2), "swapped slots: {}", stdout(&o));
    assert!(stderr(&o).contains("do not lead to word"), "{}", stderr(&o));
}

/// The file at `path` with `edit` applied to its metadata, written to `out`.
fn edited_gguf(path: &Path, out: &Path, edit: impl FnOnce(&mut BTreeMap<String, MetaValue>)) {
    let file = Gguf::open(path).unwrap();
    let mut metadata = file.metadata.clone();
    edit(&mut metadata);
    std::fs::write(out, write::with_metadata(&file, &metadata)).unwrap();
}

/// Runs perplexity with the quantized engine (default) and with `--compute f32`.
fn both_computes(dir: &Path, model: &str) -> [(Option<i32>, String); 2] {
    let run = |extra: &[&str]| {
        let o = lmgauge(dir, &[&["perplexity", "--model", model, "--input", "t.txt"], extra].concat());
        (o.status.code(), stderr(&o))
    };
    [run(&[]), run(&["--compute", "f32"])]
}

#[test]
fn gguf_keys_of_the_wrong_type_are_refused_by_both_computes() {
    let dir = workspace(&[("t.txt", "the quick brown fox jumps over the lazy dog\n")]);
    let twin = |name: &str| fixture(&format!("gguf-twins/{name}"));
    let cases: Vec<(PathBuf, &str, MetaValue, &str)> = vec![
        (
            twin("llama-linear-rope.Q8_0.gguf"),
            "llama.rope.scaling.type",
            MetaValue::U32(1),
            "is a u32 1; it must be a string",
        ),
        (
            twin("llama-linear-rope.Q8_0.gguf"),
            "llama.rope.freq_base",
            MetaValue::Str("10000".into()),
            "must be a number",
        ),
        (
            twin("llama-linear-rope.Q8_0.gguf"),
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::Str("1e-5".into()),
            "must be a number",
        ),
        (
            twin("llama-linear-rope.Q8_0.gguf"),
            "llama.block_count",
            MetaValue::U32(1),
            "block_count is 1 but the file stores 2 layers",
        ),
        (twin("llama-linear-rope.Q8_0.gguf"), "tokenizer.ggml.bos_token_id", MetaValue::I32(-1), "is an i32 -1"),
        (twin("gemma3-local-global.Q8_0.gguf"), "gemma3.attention.sliding_window", MetaValue::I32(-4), "is an i32 -4"),
        (
            twin("gemma3-local-global.Q8_0.gguf"),
            "gemma3.final_logit_softcapping",
            MetaValue::Str("30".into()),
            "must be a number",
        ),
        (
            twin("gemma2-softcap.Q8_0.gguf"),
            "gemma2.attn_logit_softcapping",
            MetaValue::Str("50".into()),
            "must be a number",
        ),
    ];
    for (path, key, value, words) in cases {
        // The file as it is loads in both computes (gemma2: compute f32 only).
        let model = dir.path().join("m.gguf");
        std::fs::copy(&path, &model).unwrap();
        let [quantized, f32] = both_computes(dir.path(), "m.gguf");
        assert_eq!(f32.0, Some(0), "{}: {}", path.display(), f32.1);
        let gemma2 = key.starts_with("gemma2");
        assert_eq!(quantized.0, Some(if gemma2 { 2 } else { 0 }), "{}: {}", path.display(), quantized.1);
        edited_gguf(&path, &model, |m| {
            m.insert(key.to_owned(), value.clone());
        });
        for (engine, (code, err)) in ["quantized", "f32"].iter().zip(both_computes(dir.path(), "m.gguf")) {
            assert_eq!(code, Some(2), "{key} = {value:?} ({engine}): accepted");
            if !(gemma2 && *engine == "quantized") {
                assert!(err.contains("m.gguf") && err.contains(key) && err.contains(words), "{key} ({engine}): {err}");
            }
        }
    }
}

#[test]
fn sentencepiece_scores_must_be_finite() {
    let path = fixture("tokenizers/spm.gguf");
    let file = Gguf::open(&path).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut metadata = file.metadata.clone();
        let Some(MetaValue::Array(MetaArray::F32(scores))) = metadata.get_mut("tokenizer.ggml.scores") else {
            panic!("spm.gguf has f32 scores")
        };
        scores[300] = bad;
        let edited = Gguf::from_bytes(&path, write::with_metadata(&file, &metadata)).unwrap();
        let e = lmgauge::models::neural::gguf::tokenizer::from_gguf(&edited).err().expect("refused").to_string();
        assert!(e.contains("tokenizer.ggml.scores[300]") && e.contains("must be finite"), "{e}");
    }
}

/// A preference suite judged by response length on `pairs.jsonl` (explicit layout).
const LENGTH_SUITE: &str = "version: 1\nname: p\nbootstrap: 50\nmodels:\n  - {id: longer, kind: length}\ntasks:\n  - id: t\n    type: preference\n    dataset: {path: pairs.jsonl}\n    layout: explicit\n    models: [longer]\n    metrics: [accuracy, length_correlation]\n";

fn pairs(lengths_differ: bool) -> String {
    (0..6)
        .map(|i| {
            let rejected = if lengths_differ { "n".repeat(1 + i % 3) } else { "nnn".into() };
            format!("{{\"prompt\": \"q{i}\", \"chosen\": \"yes\", \"rejected\": \"{rejected}\"}}\n")
        })
        .collect()
}

fn gate(dir: &Path) -> (Option<i32>, String, Value) {
    let o = lmgauge(dir, &["gate", "out/p/latest", "--baseline", "base/p.json"]);
    let verdicts = std::fs::read(dir.join("out/p/latest/gate.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)), verdicts)
}

fn verdict_of(gate: &Value, metric: &str) -> String {
    gate["entries"].as_array().unwrap().iter().find(|e| e["metric"] == metric).unwrap()["verdict"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_undefined_metric_has_one_form_that_baselines_and_gates_read() {
    let dir = workspace(&[("suite.yaml", LENGTH_SUITE), ("pairs.jsonl", &pairs(false))]);
    let run = |dir: &Path| lmgauge(dir, &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(run(dir.path()).status.success());
    let csv = std::fs::read_to_string(dir.path().join("out/p/latest/results.csv")).unwrap();
    assert!(csv.contains("t,longer,length_correlation,NaN"), "no spread in lengths: undefined\n{csv}");
    let o = lmgauge(dir.path(), &["baseline", "save", "out/p/latest", "--to", "base/p.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let base: Value = serde_json::from_slice(&std::fs::read(dir.path().join("base/p.json")).unwrap()).unwrap();
    let entry = base["entries"].as_array().unwrap().iter().find(|e| e["metric"] == "length_correlation").unwrap();
    assert!(entry["value"].is_null(), "{entry}");
    // Undefined on both sides: reported, not failed.
    let (code, out, verdicts) = gate(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(verdict_of(&verdicts, "length_correlation"), "NotComparable");
    assert_eq!(verdict_of(&verdicts, "accuracy"), "WithinNoise");
    crate::common::valid_results_json(&std::fs::canonicalize(dir.path().join("out/p/latest")).unwrap());
    // A baseline with a value, a run without one: the metric became undefined, and the gate fails.
    std::fs::write(dir.path().join("pairs.jsonl"), pairs(true)).unwrap();
    assert!(run(dir.path()).status.success());
    let o = lmgauge(dir.path(), &["baseline", "save", "out/p/latest", "--to", "base/p.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.path().join("pairs.jsonl"), pairs(false)).unwrap();
    assert!(run(dir.path()).status.success());
    let (code, out, verdicts) = gate(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(verdict_of(&verdicts, "length_correlation"), "NotComparable");
    let entry = verdicts["entries"].as_array().unwrap().iter().find(|e| e["metric"] == "length_correlation").unwrap();
    assert!(entry["note"].as_str().unwrap().contains("undefined in this run"), "{entry}");
    assert!(entry["current"].is_null() && entry["baseline"].is_number(), "{entry}");
}

#[test]
fn infinite_values_and_empty_job_records_are_refused_by_gate_resume_and_merge() {
    let dir = workspace(&[("suite.yaml", LENGTH_SUITE), ("pairs.jsonl", &pairs(true))]);
    assert!(lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]).status.success());
    assert!(lmgauge(dir.path(), &["baseline", "save", "out/p/latest", "--to", "base/p.json"]).status.success());
    let run = std::fs::canonicalize(dir.path().join("out/p/latest")).unwrap();
    let csv_path = run.join("results.csv");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let line = csv.lines().find(|l| l.starts_with("t,longer,accuracy,")).unwrap().to_owned();
    let mut fields: Vec<&str> = line.split(',').collect();
    fields[3] = "inf";
    std::fs::write(&csv_path, csv.replace(&line, &fields.join(","))).unwrap();
    let (code, out, _) = gate(dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("results.csv: value of accuracy of longer on t is inf: not a measurement"), "{out}");
    std::fs::write(&csv_path, &csv).unwrap();
    // A finished job's record emptied of its items.
    let record_path = run.join("jobs/t__longer.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record["items"] = Value::Array(Vec::new());
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    let (code, out, _) = gate(dir.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("t__longer.json: job t × longer is recorded as done with no items"), "{out}");
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "resume accepted it");
    assert!(
        stderr(&o).contains("recorded as done with no items") && stderr(&o).contains("delete it"),
        "{}",
        stderr(&o)
    );
    let o = lmgauge(dir.path(), &["merge", run.to_str().unwrap(), "--out-dir", "merged"]);
    assert_eq!(o.status.code(), Some(2), "merge accepted it: {}", stdout(&o));
    assert!(stderr(&o).contains("recorded as done with no items"), "{}", stderr(&o));
}

#[test]
fn identical_systems_are_a_tie() {
    let wmt = |f: &str| repo().join("data/wmt17-en-de").join(f).display().to_string();
    let suite = format!(
        "version: 1\nname: r\nbootstrap: 100\nmodels:\n  - {{id: uedin, kind: outputs, path: {u}}}\n  - {{id: twin, kind: outputs, path: {u}}}\n  - {{id: kit, kind: outputs, path: {k}}}\ntasks:\n  - id: wmt\n    type: reference\n    dataset: {{path: {r}, limit: 200}}\n    models: [uedin, twin, kit]\n    metrics: [bleu, chrf]\n",
        u = wmt("newstest2017.uedin-nmt.4722.hyp.de"),
        k = wmt("newstest2017.KIT.4950.hyp.de"),
        r = wmt("newstest2017.ref.de")
    );
    for significance in ["paired-bs", "paired-ar"] {
        let dir = workspace(&[(
            "suite.yaml",
            &suite
                .replace("metrics: [bleu, chrf]", &format!("metrics: [bleu, chrf]\n    significance: {significance}")),
        )]);
        let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let pairwise = std::fs::read_to_string(dir.path().join("out/r/latest/pairwise.csv")).unwrap();
        for metric in ["bleu", "chrf"] {
            let row = pairwise.lines().find(|l| l.starts_with(&format!("wmt,{metric},uedin,twin,"))).unwrap();
            assert_eq!(row.split(',').nth(6), Some("1.0"), "{significance}: {row}");
        }
        let html = std::fs::read_to_string(dir.path().join("out/r/latest/index.html")).unwrap();
        assert!(!html.contains("★ ‡"), "{significance}: a system is not better than its copy");
    }
}

/// A trigram suite over a few WikiText-2 lines, quick to run.
fn quick_suite() -> tempfile::TempDir {
    let train = std::fs::read_to_string(fixture("kenlm/wiki-train.txt")).unwrap();
    let suite = "version: 1\nname: c\nbootstrap: 20\nmodels:\n  - {id: kn2, kind: ngram, train: train.txt, order: 2, skip_symbols: true}\n  - {id: kn3, kind: ngram, train: train.txt, order: 3, skip_symbols: true}\ntasks:\n  - {id: wiki, type: perplexity, dataset: {path: text.txt}, models: [kn2, kn3], metrics: [bits_per_byte]}\n";
    workspace(&[("suite.yaml", suite), ("train.txt", &train), ("text.txt", &train[..20_000])])
}

#[test]
fn runs_started_together_keep_their_own_folders() {
    let dir = quick_suite();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge"))
            .current_dir(dir.path())
            .env("CI", "1")
            .args(["run-suite", "suite.yaml", "--out", "out", "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("out/c"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.is_symlink() && p.is_dir())
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let first = std::fs::read_to_string(runs[0].join("results.csv")).unwrap();
    for r in &runs {
        assert_eq!(std::fs::read_to_string(r.join("results.csv")).unwrap(), first, "{}", r.display());
        let manifest: Value = serde_json::from_slice(&std::fs::read(r.join("run.json")).unwrap()).unwrap();
        assert_eq!(manifest["status"], "complete");
        assert_eq!(manifest["run_id"].as_str(), r.file_name().unwrap().to_str());
        assert_eq!(
            std::fs::read_dir(r.join("jobs")).unwrap().count(),
            2,
            "{}: one record per job, no leftovers",
            r.display()
        );
    }
}

#[test]
fn a_run_being_written_is_not_resumed_by_a_second_process() {
    let dir = quick_suite();
    assert!(lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]).status.success());
    let run = std::fs::canonicalize(dir.path().join("out/c/latest")).unwrap();
    // This test process holds the run, as a run-suite writing it would.
    let held = std::fs::OpenOptions::new().read(true).write(true).open(run.join(".lock")).unwrap();
    held.try_lock().unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet", "--resume"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is being written by") && stderr(&o).contains("lmgauge process"), "{}", stderr(&o));
    drop(held);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn show_prints_a_cell_of_any_length() {
    let dir = quick_suite();
    assert!(lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]).status.success());
    let run = std::fs::canonicalize(dir.path().join("out/c/latest")).unwrap();
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    let long = "k".repeat(65_536);
    std::fs::write(run.join("results.csv"), csv.replace(",kn3,", &format!(",{long},"))).unwrap();
    let o = lmgauge(dir.path(), &["show", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("{}…", "k".repeat(79))), "{}", stdout(&o));
}

#[test]
fn escape_sequences_from_data_do_not_reach_the_terminal() {
    // A model whose likeliest word is an escape sequence (clear screen, set the title).
    let word = "\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let arpa =
        format!("\\data\\\nngram 1=4\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\n-2.0\t</s>\n-0.01\t{word}\n\n\\end\\\n");
    let suite = "version: 1\nname: s\nmodels:\n  - {id: kn, kind: ngram, arpa: m.arpa}\n  - {id: bad, kind: ngram, \"co\\elour\\e]0;x\\a\": 1, arpa: m.arpa}\ntasks: []\n";
    let dir = workspace(&[("m.arpa", &arpa), ("suite.yaml", suite)]);
    let o = lmgauge(dir.path(), &["generate", "--model", "m.arpa", "--prompt", "x", "--max-new-tokens", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains('\u{1b}') && !stdout(&o).contains('\u{7}'), "{:?}", stdout(&o));
    assert!(stdout(&o).contains("\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"), "{:?}", stdout(&o));
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}') && err.contains("co\\u{1b}lour"), "{err:?}");
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let rows: String =
        [("=HYPERLINK(\"http://x\")", "yes", "no"), ("@SUM(A1)", "sure", "nope"), ("+1", "ok", "not ok")]
            .iter()
            .enumerate()
            .map(|(i, (subset, chosen, rejected))| {
                serde_json::json!({"prompt": format!("q{i}"), "chosen": chosen, "rejected": rejected, "subset": subset})
                    .to_string()
                    + "\n"
            })
            .collect();
    let suite = "version: 1\nname: m\nbootstrap: 20\nmodels:\n  - {id: -len, kind: length}\ntasks:\n  - id: t\n    type: preference\n    dataset: {path: p.jsonl}\n    layout: explicit\n    models: [-len]\n    metrics: [accuracy]\n";
    let dir = workspace(&[("p.jsonl", &rows), ("suite.yaml", suite)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = std::fs::canonicalize(dir.path().join("out/m/latest")).unwrap();
    let subsets = std::fs::read_to_string(run.join("subsets.csv")).unwrap();
    for cell in ["\"'=HYPERLINK(\"\"http://x\"\")\"", ",'@SUM(A1),", ",'+1,"] {
        assert!(subsets.contains(cell), "{cell} in\n{subsets}");
    }
    assert!(subsets.lines().skip(1).all(|l| l.starts_with("t,'-len,")), "{subsets}");
    let judges = std::fs::read_to_string(run.join("judges.csv")).unwrap();
    assert!(judges.lines().skip(1).all(|l| l.starts_with("t,'-len,")), "{judges}");
    let results = std::fs::read_to_string(run.join("results.csv")).unwrap();
    assert!(results.contains("t,'-len,accuracy,"), "{results}");
    // lmgauge reads its own files back to the ids they hold.
    let o = lmgauge(dir.path(), &["show", run.to_str().unwrap(), "--json"]);
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(shown["results"].to_string().contains("\"-len\""), "{shown}");
    let o = lmgauge(dir.path(), &["show", run.to_str().unwrap()]);
    assert!(stdout(&o).contains("\n  -len ") && !stdout(&o).contains("'-len"), "{}", stdout(&o));
    assert!(lmgauge(dir.path(), &["baseline", "save", run.to_str().unwrap(), "--to", "b.json"]).status.success());
    let o = lmgauge(dir.path(), &["gate", run.to_str().unwrap(), "--baseline", "b.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
