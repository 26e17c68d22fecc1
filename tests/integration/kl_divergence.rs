//! `type: kl-divergence`: SmolLM2's Q8_0 and Q4_0 files against its F16 one beside
//! `llama-perplexity --kl-divergence` (tests/fixtures/llama-cpp/kl-divergence.json, written by
//! scripts/llama-cpp-fixtures.py); a model against itself; the refusals (a base that is not in
//! the suite or cannot give distributions, models that read the text differently); a gate that
//! pairs the mean-like metrics and compares the percentiles by value.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{fixture, lmgauge, rel, repo, stderr, stdout, workspace};

const METRICS: &str = "[kl_divergence, kl_divergence_median, kl_divergence_p90, kl_divergence_p99, kl_divergence_p99_9, kl_divergence_max, top1_agreement, perplexity_ratio, delta_p_rms, token_perplexity]";

fn requantized() -> Option<PathBuf> {
    let dir = repo().join("models/smollm2-requant");
    if dir.join(".complete").is_file() {
        return Some(dir);
    }
    assert!(std::env::var_os("LMGAUGE_REQUIRE_MODELS").is_none(), "{} is missing", dir.display());
    eprintln!("skipped: {} is missing (run `make models`)", dir.display());
    None
}

/// A suite of `models` (id, GGUF path, extra keys) and one kl-divergence task of all but the
/// first against the first.
fn suite(models: &[(&str, &Path, &str)], text: &Path) -> String {
    let mut s = String::from("version: 1\nname: kl\nseed: 7\nmodels:\n");
    for (id, path, extra) in models {
        s += &format!("  - id: {id}\n    kind: causal\n    path: {}\n{extra}", path.display());
    }
    let listed: Vec<&str> = models[1..].iter().map(|m| m.0).collect();
    s + &format!(
        "tasks:\n  - id: kld\n    type: kl-divergence\n    base: {}\n    dataset: {{path: {}, format: text, unit: file}}\n    models: [{}]\n    metrics: {METRICS}\n",
        models[0].0,
        text.display(),
        listed.join(", ")
    )
}

/// `results.csv` of the newest run under `dir/out`: (model, metric) → value.
fn results(dir: &Path) -> Vec<(String, String, f64)> {
    let csv = std::fs::read_to_string(dir.join("out/kl/latest/results.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_owned(), f[2].to_owned(), f[3].parse().unwrap())
        })
        .collect()
}

fn value(rows: &[(String, String, f64)], model: &str, metric: &str) -> f64 {
    rows.iter().find(|r| r.0 == model && r.1 == metric).unwrap_or_else(|| panic!("{model} {metric}")).2
}

/// Against llama-perplexity's statistics, within what its own arithmetic moves them: its two
/// attention paths (flash attention on and off) differ on this text by up to 3.4% in mean KL
/// (Q8_0), 24% at the 99th percentile and 124% at the maximum. Measured gaps (docs/models.md):
/// mean KL 0.09% (Q4_0) and 0.6% (Q8_0); percentiles at most 4.1%; top-1 agreement 0.64 points.
#[test]
fn divergence_matches_llama_perplexity() {
    let Some(models) = requantized() else { return };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("llama-cpp/kl-divergence.json")).unwrap()).unwrap();
    let path = |q: &str| models.join(format!("SmolLM2-135M-Instruct.{q}.gguf"));
    let chunks = "    windows: llama-perplexity\n";
    let (f16, q8, q4) = (path("F16"), path("Q8_0"), path("Q4_0"));
    let text = fixture("llama-cpp/wikitext-kld.txt");
    let dir = workspace(&[(
        "suite.yaml",
        &suite(&[("f16", &f16, chunks), ("Q8_0", &q8, chunks), ("Q4_0", &q4, chunks)], &text),
    )]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let rows = results(dir.path());
    let tolerance = |metric: &str| match metric {
        "kl_divergence" | "perplexity_ratio" | "token_perplexity" => 1e-2,
        "delta_p_rms" => 4e-2,
        "kl_divergence_max" => 0.25,
        _ => 6e-2,
    };
    for q in ["Q8_0", "Q4_0"] {
        let want = &expected["flash_attention"]["on"][q];
        let w = |k: &str| want[k].as_f64().unwrap();
        for metric in [
            "kl_divergence",
            "kl_divergence_median",
            "kl_divergence_p90",
            "kl_divergence_p99",
            "kl_divergence_p99_9",
            "kl_divergence_max",
            "perplexity_ratio",
        ] {
            let got = value(&rows, q, metric);
            assert!(rel(got, w(metric)) < tolerance(metric), "{q} {metric}: lmgauge {got} vs llama.cpp {}", w(metric));
        }
        let pairs = [("token_perplexity", w("ppl")), ("delta_p_rms", w("delta_p_rms_percent") / 100.0)];
        for (metric, want) in pairs {
            let got = value(&rows, q, metric);
            assert!(rel(got, want) < tolerance(metric), "{q} {metric}: lmgauge {got} vs llama.cpp {want}");
        }
        let top1 = value(&rows, q, "top1_agreement");
        assert!((top1 - w("top1_agreement_percent") / 100.0).abs() < 0.01, "{q}: top-1 {top1}");
    }
    // Q4_0 loses far more than Q8_0, by every measure.
    assert!(value(&rows, "Q4_0", "kl_divergence") > 50.0 * value(&rows, "Q8_0", "kl_divergence"));
    assert!(value(&rows, "Q4_0", "top1_agreement") < value(&rows, "Q8_0", "top1_agreement"));
    let csv = std::fs::read_to_string(dir.path().join("out/kl/latest/results.csv")).unwrap();
    // Items are the 8 chunks (2,040 scored tokens): the bootstrap resamples chunks.
    assert!(csv.lines().skip(1).all(|l| l.split(',').nth(6) == Some("8")), "{csv}");
}

/// A model against another copy of itself diverges by nothing; a gate on such a run pairs the
/// mean-like metrics and compares the percentiles by value and band.
#[test]
fn a_model_against_itself_diverges_by_nothing_and_gates() {
    let model = fixture("gguf/tiny-llama.gguf");
    let text: String = (0..40).map(|i| format!("the cat {i} sat on the mat and the dog ran after it\n")).collect();
    let dir = workspace(&[("text.txt", &text)]);
    let suite_text = suite(&[("base", &model, ""), ("copy", &model, "")], &dir.path().join("text.txt"));
    std::fs::write(dir.path().join("suite.yaml"), &suite_text).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let rows = results(dir.path());
    assert_eq!(rows.len(), 10);
    for m in ["kl_divergence", "kl_divergence_max", "delta_p_rms"] {
        assert!(value(&rows, "copy", m).abs() < 1e-12, "{m}: {}", value(&rows, "copy", m));
    }
    assert_eq!(value(&rows, "copy", "top1_agreement"), 1.0);
    assert_eq!(value(&rows, "copy", "perplexity_ratio"), 1.0);
    let run = std::fs::canonicalize(dir.path().join("out/kl/latest")).unwrap();
    let o = lmgauge(dir.path(), &["baseline", "save", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet", "--gate", "baselines/kl.json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let run = std::fs::canonicalize(dir.path().join("out/kl/latest")).unwrap();
    let gate: Value = serde_json::from_slice(&std::fs::read(run.join("gate.json")).unwrap()).unwrap();
    let entries = gate["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let entry = |m: &str| entries.iter().find(|e| e["metric"] == m).unwrap();
    assert!(entry("kl_divergence")["p_value"].is_number(), "{}", entry("kl_divergence"));
    let p99 = entry("kl_divergence_p99");
    assert!(p99["note"].as_str().unwrap().contains("percentile over tokens"), "{p99}");
    assert!(entries.iter().all(|e| e["verdict"] == "WithinNoise"));
}

/// The base must be a suite model that gives distributions, not one of the compared models;
/// models that read the text in different windows are refused, naming where they part.
#[test]
fn refusals_name_the_base_and_where_the_models_part() {
    let model = fixture("gguf/tiny-llama.gguf");
    let text: String = (0..40).map(|i| format!("the cat {i} sat on the mat\n")).collect();
    let dir = workspace(&[("text.txt", &text)]);
    let text_path = dir.path().join("text.txt");
    let check = |suite_text: String, want: &str| {
        std::fs::write(dir.path().join("suite.yaml"), suite_text).unwrap();
        let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
    };
    let good = suite(&[("base", &model, ""), ("other", &model, "")], &text_path);
    check(good.replace("base: base", "base: nowhere"), "base model \"nowhere\" is not in the suite");
    check(good.replace("models: [other]", "models: [other, base]"), "is also among the task's models");
    let ngram = good.replace(
        "tasks:",
        &format!("  - id: kn\n    kind: ngram\n    train: {}\n    order: 2\ntasks:", text_path.display()),
    );
    check(
        ngram.replace("base: base", "base: kn"),
        "base model \"kn\" (kind ngram) cannot give next-token distributions",
    );

    // Same tokenizer, different windows: 16-token windows against the model's whole context.
    let short = suite(&[("base", &model, ""), ("short", &model, "    max_length: 16\n")], &text_path);
    std::fs::write(dir.path().join("suite.yaml"), short).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(e.contains("read the text differently") && e.contains("windows against"), "{e}");
}
