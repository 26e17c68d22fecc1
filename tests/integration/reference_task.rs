//! Reference tasks in suites: stored outputs against references, corpus scores identical to the
//! reference tools, pairwise significance, misalignment and capability errors.

use crate::common::{fixture, lmgauge, repo, stderr, workspace};

fn wmt(name: &str) -> String {
    repo().join("data/wmt17-en-de").join(name).display().to_string()
}

fn suite(extra_models: &str, task_models: &str) -> String {
    format!(
        "version: 1
name: ref
seed: 9
bootstrap: 200
models:
  - {{id: uedin, kind: outputs, path: {uedin}}}
  - {{id: kit, kind: outputs, path: {kit}}}
{extra_models}tasks:
  - id: wmt
    type: reference
    dataset: {{path: {reference}, format: text}}
    models: {task_models}
    metrics: [bleu, chrf, chrf++, rouge1, rougeL]
",
        uedin = wmt("newstest2017.uedin-nmt.4722.hyp.de"),
        kit = wmt("newstest2017.KIT.4950.hyp.de"),
        reference = wmt("newstest2017.ref.de"),
    )
}

fn csv_value(csv: &str, model: &str, metric: &str) -> f64 {
    csv.lines()
        .find(|l| l.starts_with(&format!("wmt,{model},{metric},")))
        .and_then(|l| l.split(',').nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {model} {metric} in\n{csv}"))
}

#[test]
fn reference_task_matches_sacrebleu_and_compares_systems() {
    let dir = workspace(&[("suite.yaml", &suite("", "[uedin, kit]"))]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = std::fs::canonicalize(dir.path().join("out/ref/latest")).unwrap();
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    let fx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("metrics/sacrebleu-wmt17.json")).unwrap()).unwrap();
    let want = |system: &str, key: &str, pred: &dyn Fn(&serde_json::Value) -> bool| -> f64 {
        fx[key].as_array().unwrap().iter().find(|c| c["system"] == system && pred(c)).unwrap()["score"]
            .as_f64()
            .unwrap()
    };
    let plain_bleu = |c: &serde_json::Value| {
        c["tokenize"] == "13a"
            && c["smooth"] == "exp"
            && c["lowercase"] == false
            && c["refs"].as_array().unwrap().len() == 1
    };
    for (model, system) in [("uedin", "uedin-nmt.4722"), ("kit", "KIT.4950")] {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(close(csv_value(&csv, model, "bleu"), want(system, "bleu", &plain_bleu)));
        assert!(close(csv_value(&csv, model, "chrf"), want(system, "chrf", &|c| c["word_order"] == 0)));
        assert!(close(csv_value(&csv, model, "chrf++"), want(system, "chrf", &|c| c["word_order"] == 2)));
        let r1 = csv_value(&csv, model, "rouge1");
        assert!(r1 > 0.0 && r1 < 1.0);
    }
    let pairwise = std::fs::read_to_string(run.join("pairwise.csv")).unwrap();
    let bleu_line = pairwise.lines().find(|l| l.starts_with("wmt,bleu,uedin,kit,")).expect("bleu pair");
    let p: f64 = bleu_line.split(',').nth(6).unwrap().parse().unwrap();
    assert!(p < 0.05, "uedin-nmt vs KIT is significant: {bleu_line}");
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("Pairwise tests: bleu") && html.contains("Pairwise tests: rougeL"));
    assert!(std::fs::read_to_string(run.join("summary.md")).unwrap().contains("| uedin | – |"));
}

#[test]
fn misaligned_outputs_fail_the_job_naming_both_counts() {
    let short = "eins\nzwei\n";
    let extra = "  - {id: short, kind: outputs, path: short.txt}\n";
    let dir = workspace(&[("suite.yaml", &suite(extra, "[uedin, short]")), ("short.txt", short)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("short.txt has 2 outputs") && err.contains("have 3004"), "{err}");
    let run = std::fs::canonicalize(dir.path().join("out/ref/latest")).unwrap();
    assert!(std::fs::read_to_string(run.join("results.csv")).unwrap().contains("wmt,uedin,bleu"));
}

#[test]
fn capabilities_are_checked_against_task_types() {
    let train = fixture("kenlm/wiki-train.txt").display().to_string();
    let extra = format!("  - {{id: kn2, kind: ngram, train: {train}, order: 2, skip_symbols: true}}\n");
    let dir = workspace(&[("suite.yaml", &suite(&extra, "[uedin, kn2]"))]);
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("suite.yaml:13:21") && err.contains("\"kn2\"") && err.contains("stored outputs"), "{err}");
    // And the other way round: stored outputs cannot be scored for perplexity.
    let s = suite("", "[uedin, kit]")
        .replace("type: reference", "type: perplexity")
        .replace("metrics: [bleu, chrf, chrf++, rouge1, rougeL]", "metrics: [bits_per_byte]");
    let dir = workspace(&[("suite.yaml", &s)]);
    let err = stderr(&lmgauge(dir.path(), &["validate", "suite.yaml"]));
    assert!(err.contains("\"uedin\"") && err.contains("token scoring"), "{err}");
}

#[test]
fn jsonl_references_may_be_lists_and_rouge_matches_in_process_scoring() {
    use lmgauge::metrics::rouge::{RougeScorer, RougeType};
    let refs = "{\"ref\": [\"the cat sat on the mat\", \"a cat was sitting\"]}\n{\"ref\": \"dogs are running fast\"}\n";
    let outs = "{\"out\": \"the cat sat\"}\n{\"out\": \"dogs run\"}\n";
    let s = "version: 1\nname: r\nmodels:\n  - {id: sys, kind: outputs, path: outs.jsonl, field: out}\ntasks:\n  - id: t\n    type: reference\n    dataset: {path: refs.jsonl, fields: {text: ref}}\n    models: [sys]\n    metrics: [rouge1, rougeLsum]\n";
    let dir = workspace(&[("suite.yaml", s), ("refs.jsonl", refs), ("outs.jsonl", outs)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("out/r/latest/results.csv")).unwrap();
    let scorer = RougeScorer { types: vec![RougeType::Rouge1], stem: true };
    let a = scorer.score_multi(&["the cat sat on the mat", "a cat was sitting"], "the cat sat")[0].1.fmeasure;
    let b = scorer.score_multi(&["dogs are running fast"], "dogs run")[0].1.fmeasure;
    let got: f64 =
        csv.lines().find(|l| l.starts_with("t,sys,rouge1,")).unwrap().split(',').nth(3).unwrap().parse().unwrap();
    assert!((got - (a + b) / 2.0).abs() < 1e-9, "{got} vs {}", (a + b) / 2.0);
}
