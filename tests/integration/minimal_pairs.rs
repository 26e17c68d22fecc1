//! The `minimal-pairs` task type: n-gram sentence scores equal KenLM's own `query` totals (the
//! committed fixture, in natural log), accuracy and ties follow from them, groups and McNemar's
//! test are written; bad pairs fail the job naming file, line and field; a folder is read whole.

use std::io::Write;

use serde_json::Value;

use crate::common::{fixture, lmgauge, rel, stderr, workspace};

/// (good, bad)
type Sentences = (String, String);

/// wiki-query.txt's sentences in pairs (the first of two as the "good" one), with KenLM's totals.
fn pairs_from_query_lines() -> (Vec<Sentences>, Vec<(f64, f64)>) {
    let text = std::fs::read_to_string(fixture("kenlm/wiki-query.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let fx: Value = serde_json::from_slice(&std::fs::read(fixture("kenlm/query.json")).unwrap()).unwrap();
    let totals: Vec<f64> =
        fx["wiki-3"]["line_totals_log10"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // Blank lines (paragraph breaks) are no sentences to compare.
    let kept: Vec<(&str, f64)> =
        lines.iter().zip(&totals).filter(|(l, _)| !l.trim().is_empty()).map(|(l, t)| (*l, *t)).collect();
    let ln10 = std::f64::consts::LN_10;
    let two = kept.chunks_exact(2);
    let pairs = two.clone().map(|p| (p[0].0.to_owned(), p[1].0.to_owned())).collect();
    let kenlm = two.map(|p| (p[0].1 * ln10, p[1].1 * ln10)).collect();
    (pairs, kenlm)
}

fn jsonl(pairs: &[Sentences], uid: impl Fn(usize) -> String) -> String {
    pairs
        .iter()
        .enumerate()
        .map(|(i, (g, b))| {
            serde_json::json!({"sentence_good": g, "sentence_bad": b, "UID": uid(i), "linguistics_term": "t", "field": "f"})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn suite(path: &str, models: &str) -> String {
    format!(
        "version: 1\nname: mp\nseed: 3\nbootstrap: 100\nmodels:\n  - {{id: kn3, kind: ngram, arpa: wiki-3.arpa}}\n  - {{id: kn2, kind: ngram, arpa: wiki-2.arpa}}\ntasks:\n  - id: pairs\n    type: minimal-pairs\n    dataset: {{path: {path}}}\n    models: [{models}]\n    metrics: [accuracy, tie_rate]\n"
    )
}

fn unzip_arpa(dir: &std::path::Path, name: &str) {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(fixture(&format!("kenlm/{name}.gz"))).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(dir.join(name)).unwrap()).unwrap();
}

#[test]
fn ngram_pairs_are_scored_as_kenlm_scores_sentences() {
    let (pairs, kenlm) = pairs_from_query_lines();
    let dir = workspace(&[]);
    unzip_arpa(dir.path(), "wiki-3.arpa");
    unzip_arpa(dir.path(), "wiki-2.arpa");
    // Gzipped JSONL in a folder, two phenomena.
    std::fs::create_dir(dir.path().join("blimp")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("blimp/one.jsonl.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(jsonl(&pairs, |i| if i % 2 == 0 { "even".into() } else { "odd".into() }).as_bytes()).unwrap();
    gz.finish().unwrap();
    // Published numbers are shown beside, for the groups the run has.
    let published = "{\"UID\": \"even\", \"linguistics_term\": \"t\", \"gpt2\": 0.9}\n{\"UID\": \"absent\", \"linguistics_term\": \"t\", \"gpt2\": 0.5}\n";
    std::fs::write(dir.path().join("paper.jsonl"), published).unwrap();
    let s = suite("blimp", "kn3, kn2") + "    published: [paper.jsonl]\n";
    std::fs::write(dir.path().join("suite.yaml"), s).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("out/mp/latest");

    let record: Value = serde_json::from_slice(&std::fs::read(run.join("jobs/pairs__kn3.json")).unwrap()).unwrap();
    let items = record["items"].as_array().unwrap();
    assert_eq!(items.len(), pairs.len());
    for (item, (good, bad)) in items.iter().zip(&kenlm) {
        let (g, b) = (item["scores"]["chosen"].as_f64().unwrap(), item["scores"]["rejected"].as_f64().unwrap());
        assert!(rel(g, *good) < 1e-6 && rel(b, *bad) < 1e-6, "{}: {g} {b} vs KenLM {good} {bad}", item["id"]);
    }
    assert_eq!(items[0]["id"], "one:1");

    let right = kenlm.iter().filter(|(g, b)| g > b).count() as f64 / kenlm.len() as f64;
    let ties = kenlm.iter().filter(|(g, b)| g == b).count() as f64 / kenlm.len() as f64;
    let results = std::fs::read_to_string(run.join("results.csv")).unwrap();
    let row = |metric: &str| -> f64 {
        let line = results.lines().find(|l| l.starts_with(&format!("pairs,kn3,{metric},"))).unwrap();
        line.split(',').nth(3).unwrap().parse().unwrap()
    };
    assert!((row("accuracy") - right).abs() < 1e-12 && (row("tie_rate") - ties).abs() < 1e-12);

    let subsets = std::fs::read_to_string(run.join("subsets.csv")).unwrap();
    assert!(subsets.contains("pairs,kn3,UID=even,") && subsets.contains("pairs,kn2,field=f,"), "{subsets}");
    assert!(subsets.contains("pairs,gpt2 (published),UID=even,") && !subsets.contains("absent"), "{subsets}");
    // Overall: over all pairs, and the mean over phenomena (UID) as the paper reports it.
    let group = |parity: usize| -> f64 {
        let g: Vec<_> = kenlm.iter().enumerate().filter(|(i, _)| i % 2 == parity).map(|(_, p)| p).collect();
        g.iter().filter(|(a, b)| a > b).count() as f64 / g.len() as f64
    };
    let overall = |what: &str| -> f64 {
        let line = subsets.lines().find(|l| l.starts_with(&format!("pairs,kn3,overall={what},"))).unwrap();
        line.split(',').nth(4).unwrap().parse().unwrap()
    };
    assert!((overall("all pairs") - right).abs() < 1e-12);
    assert!((overall("mean over UID") - (group(0) + group(1)) / 2.0).abs() < 1e-12);
    let pairwise = std::fs::read_to_string(run.join("pairwise.csv")).unwrap();
    assert!(pairwise.lines().nth(1).unwrap().starts_with("pairs,accuracy,kn3,kn2,"), "{pairwise}");
    assert!(pairwise.contains("mcnemar-exact-holm"));
    let json = crate::common::valid_results_json(&run);
    let test = &json["pairwise"][0];
    assert_eq!((test["model_a"].as_str(), test["model_b"].as_str()), (Some("kn3"), Some("kn2")));
    assert!(test["p_value"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p)), "{test}");
    let summary = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(summary.contains("Accuracy by UID") && summary.contains("| even |"), "{summary}");
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("<summary>Accuracy by linguistics_term</summary>"));
}

#[test]
fn a_bad_pair_fails_the_job_naming_file_line_and_field() {
    let dir = workspace(&[(
        "pairs.jsonl",
        "{\"sentence_good\": \"a b\", \"sentence_bad\": \"b a\", \"UID\": \"x\", \"linguistics_term\": \"t\", \"field\": \"f\"}\n{\"sentence_good\": \"a\", \"sentence_bad\": \" \", \"UID\": \"x\", \"linguistics_term\": \"t\", \"field\": \"f\"}\n",
    )]);
    unzip_arpa(dir.path(), "wiki-3.arpa");
    unzip_arpa(dir.path(), "wiki-2.arpa");
    std::fs::write(dir.path().join("suite.yaml"), suite("pairs.jsonl", "kn3")).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pairs.jsonl:2: field \"sentence_bad\" is empty"), "{}", stderr(&o));

    // Folders are for task types that read them; a perplexity task refuses one at validation.
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    let s = "version: 1\nname: p\nmodels:\n  - {id: kn3, kind: ngram, arpa: wiki-3.arpa}\ntasks:\n  - {id: p, type: perplexity, dataset: {path: folder}, models: [kn3], metrics: [bits_per_byte]}\n";
    std::fs::write(dir.path().join("p.yaml"), s).unwrap();
    let o = lmgauge(dir.path(), &["validate", "p.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("p.yaml:6:") && stderr(&o).contains("is a directory, not a file"), "{}", stderr(&o));
}

#[test]
fn split_punctuation_scores_text_as_the_tokenized_training_text_reads() {
    use lmgauge::models::TokenScorer;
    use lmgauge::models::ngram::adapter::{NgramDef, NgramModel, NgramSource};
    let dir = workspace(&[]);
    unzip_arpa(dir.path(), "wiki-3.arpa");
    let load = |split: bool| {
        let def = NgramDef { source: NgramSource::Arpa(dir.path().join("wiki-3.arpa")), split_punctuation: split };
        NgramModel::from_def(&def, dir.path()).unwrap()
    };
    let (split, plain) = (load(true), load(false));
    let written = split.score_tokens("\"The game began in 2006.\"").unwrap();
    let tokenized = plain.score_tokens("\" The game began in 2006 . \"").unwrap();
    assert_eq!(written.logprobs, tokenized.logprobs);
    // Spans still point into the text as written: `2006` and its period apart.
    let text = "\"The game began in 2006.\"";
    let tokens: Vec<&str> = written.spans.iter().take(8).map(|&(a, b)| &text[a..b]).collect();
    assert_eq!(tokens, ["\"", "The", "game", "began", "in", "2006", ".", "\""]);
    // Off, the same text is whitespace-split words, as KenLM reads it.
    assert_eq!(plain.score_tokens(text).unwrap().logprobs.len(), 6);
}

#[test]
fn ngram_pairs_are_decided_as_kenlm_decides_them_near_ties_included() {
    // KenLM's Model.score sums single-precision log10 scores; sentences with the same words in
    // another order differ only in that rounding, and BLiMP has many. The fixture holds KenLM's
    // own totals for the first 10 pairs of every phenomenon (scripts/lm-eval-fixtures.py).
    let e: Value = serde_json::from_slice(&std::fs::read(fixture("multiple-choice/expected.json")).unwrap()).unwrap();
    let want = e["kenlm"]["blimp_score"].as_array().unwrap();
    let dir = workspace(&[]);
    unzip_arpa(dir.path(), "wiki-5.arpa");
    let blimp = crate::common::repo().join("data/blimp");
    let s = format!(
        "version: 1\nname: mp\nmodels:\n  - {{id: kn5, kind: ngram, arpa: wiki-5.arpa}}\ntasks:\n  - {{id: pairs, type: minimal-pairs, dataset: {{path: {}}}, per_file: 10, models: [kn5], metrics: [accuracy, tie_rate]}}\n",
        blimp.display()
    );
    std::fs::write(dir.path().join("suite.yaml"), s).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/mp/latest/jobs/pairs__kn5.json")).unwrap()).unwrap();
    let items = record["items"].as_array().unwrap();
    assert_eq!(items.len(), want.len());
    let ln10 = std::f64::consts::LN_10;
    let mut near_ties = 0;
    for (item, w) in items.iter().zip(want) {
        assert_eq!(item["id"], w["id"]);
        let (g, b) = (item["scores"]["chosen"].as_f64().unwrap(), item["scores"]["rejected"].as_f64().unwrap());
        let (kg, kb) = (w["good"].as_f64().unwrap() * ln10, w["bad"].as_f64().unwrap() * ln10);
        assert!(rel(g, kg) < 1e-6 && rel(b, kb) < 1e-6, "{}: {g} {b} vs KenLM {kg} {kb}", w["id"]);
        assert_eq!(g.partial_cmp(&b), kg.partial_cmp(&kb), "{}: decided unlike KenLM", w["id"]);
        near_ties += (g != b && rel(g, b) < 1e-6) as usize;
    }
    assert!(near_ties > 0, "the slice must hold pairs that only rounding tells apart");
}
