//! The bleu, chrf and rouge commands, and properties of the metrics on generated text.

use lmgauge::metrics::bleu::{BleuConfig, Tokenizer};
use lmgauge::metrics::chrf::ChrfConfig;
use lmgauge::metrics::rouge::{RougeScorer, RougeType};

use crate::common::{lmgauge, repo, stderr, stdout, workspace};

const REF: &str = "data/wmt17-en-de/newstest2017.ref.de";
const UEDIN: &str = "data/wmt17-en-de/newstest2017.uedin-nmt.4722.hyp.de";
const KIT: &str = "data/wmt17-en-de/newstest2017.KIT.4950.hyp.de";

#[test]
fn bleu_json_has_sacrebleu_fields_and_paired_p_values() {
    let o = lmgauge(&repo(), &["bleu", "-r", REF, "-i", UEDIN, "-i", KIT, "--paired-bs", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["version"].as_u64(), v["command"].as_str(), v["metric"].as_str()),
        (Some(1), Some("bleu"), Some("BLEU"))
    );
    let (base, kit) = (&v["systems"][0], &v["systems"][1]);
    for key in ["system", "score", "counts", "totals", "precisions", "bp", "sys_len", "ref_len"] {
        assert!(base.get(key).is_some(), "missing {key}");
    }
    assert!((base["score"].as_f64().unwrap() - 28.30).abs() < 0.005);
    assert_eq!(v["signature"], "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
    assert!(base.get("p_value").is_none());
    assert!(kit["p_value"].as_f64().unwrap() < 0.05, "uedin-nmt is significantly better than KIT");
    let o = lmgauge(&repo(), &["chrf", "-r", REF, "-i", KIT, "--word-order", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["metric"], "chrF2++");
    assert_eq!(v["signature"], "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0");
}

#[test]
fn hypotheses_from_stdin() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge"))
        .current_dir(repo())
        .args(["bleu", "-r", REF, "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(repo().join(UEDIN)).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["systems"][0]["system"], "<stdin>");
    assert!((v["systems"][0]["score"].as_f64().unwrap() - 28.30).abs() < 0.005);
}

#[test]
fn different_line_counts_are_refused_naming_both() {
    let dir = workspace(&[("ref.txt", "a b\nc d\ne f\n"), ("hyp.txt", "a b\nc d\n")]);
    for cmd in ["bleu", "chrf", "rouge"] {
        let o = lmgauge(dir.path(), &[cmd, "-r", "ref.txt", "-i", "hyp.txt"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = stderr(&o);
        assert!(err.contains("hyp.txt has 2 lines") && err.contains("ref.txt has 3"), "{cmd}: {err}");
    }
}

#[test]
fn rouge_json_and_jsonl_with_multiple_references() {
    let jsonl = "{\"prediction\": \"the cat sat\\non the mat\", \"reference\": [\"a cat sat on a mat\", \"the cat was sitting\\non the mat\"]}\n\
                 {\"prediction\": \"dogs run\", \"reference\": \"the dogs are running\"}\n";
    let dir = workspace(&[("pairs.jsonl", jsonl), ("bad.jsonl", "{\"prediction\": \"x\"}\n")]);
    let o = lmgauge(dir.path(), &["rouge", "--jsonl", "pairs.jsonl", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stem"], true, "stemming is the default, as in suites");
    let v = &v["scores"];
    for ty in ["rouge1", "rouge2", "rougeL", "rougeLsum"] {
        for k in ["precision", "recall", "fmeasure", "low", "mid", "high"] {
            let x = v[ty][k].as_f64().unwrap_or_else(|| panic!("{ty}.{k}"));
            assert!((0.0..=1.0).contains(&x));
        }
        assert!(v[ty]["low"].as_f64() <= v[ty]["high"].as_f64());
    }
    // Computed the same way in-process: best F over the two references for the first pair.
    let scorer = RougeScorer { types: vec![RougeType::Rouge1], stem: true };
    let first = scorer
        .score_multi(&["a cat sat on a mat", "the cat was sitting\non the mat"], "the cat sat\non the mat")[0]
        .1
        .fmeasure;
    let second = scorer.score("the dogs are running", "dogs run")[0].1.fmeasure;
    assert!((v["rouge1"]["fmeasure"].as_f64().unwrap() - (first + second) / 2.0).abs() < 1e-12);
    // --no-stem: rouge_score's own default ("running" no longer matches "run").
    let o = lmgauge(dir.path(), &["rouge", "--jsonl", "pairs.jsonl", "--no-stem", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["stem"], false);
    let plain = RougeScorer { types: vec![RougeType::Rouge1], stem: false };
    let first = plain
        .score_multi(&["a cat sat on a mat", "the cat was sitting\non the mat"], "the cat sat\non the mat")[0]
        .1
        .fmeasure;
    let second_plain = plain.score("the dogs are running", "dogs run")[0].1.fmeasure;
    assert!(second_plain < second, "stemming matters on this pair");
    assert!((v["scores"]["rouge1"]["fmeasure"].as_f64().unwrap() - (first + second_plain) / 2.0).abs() < 1e-12);
    let o = lmgauge(dir.path(), &["rouge", "--jsonl", "bad.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.jsonl:1") && stderr(&o).contains("\"reference\""), "{}", stderr(&o));
}

/// Deterministic pseudo-random sentences over a small vocabulary.
fn sentences(seed: u64, n: usize) -> Vec<String> {
    let vocab =
        ["the", "cat", "sat", "on", "a", "mat", ",", ".", "dogs", "run", "über", "naïve", "42", "-", "&amp;", "(", ")"];
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (s >> 59) as usize;
            (0..len)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    vocab[(s >> 33) as usize % vocab.len()]
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn metric_properties_on_generated_text() {
    let hyps = sentences(1, 300);
    let refs = sentences(2, 300);
    for tok in Tokenizer::ALL {
        let cfg = BleuConfig { tokenizer: *tok, ..BleuConfig::default() };
        let s = cfg.corpus_score(&hyps, std::slice::from_ref(&refs));
        assert!((0.0..=100.0).contains(&s.score), "{tok:?}");
        let nonempty: Vec<String> = refs.iter().filter(|r| !r.trim().is_empty()).cloned().collect();
        let same = cfg.corpus_score(&nonempty, std::slice::from_ref(&nonempty));
        assert!((same.score - 100.0).abs() < 1e-9, "{tok:?}: BLEU of a text against itself is {}", same.score);
    }
    for wo in [0, 2] {
        let c = ChrfConfig { word_order: wo, ..ChrfConfig::default() };
        let s = c.corpus_score(&hyps, std::slice::from_ref(&refs));
        assert!((0.0..=100.0).contains(&s));
        assert!((c.corpus_score(&refs, std::slice::from_ref(&refs)) - 100.0).abs() < 1e-9);
    }
    let scorer = RougeScorer { types: RougeType::ALL.to_vec(), stem: true };
    for (h, r) in hyps.iter().zip(&refs) {
        let ab = scorer.score(r, h);
        let ba = scorer.score(h, r);
        for ((_, x), (_, y)) in ab.iter().zip(&ba) {
            assert!((0.0..=1.0).contains(&x.fmeasure));
            // Swapping target and prediction swaps precision and recall; F is symmetric.
            assert!((x.precision - y.recall).abs() < 1e-12 && (x.fmeasure - y.fmeasure).abs() < 1e-12, "{h:?} / {r:?}");
        }
    }
}
