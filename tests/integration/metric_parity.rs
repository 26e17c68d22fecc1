//! BLEU, chrF and ROUGE against the reference tools' own output on real text (fixtures from
//! scripts/metric-fixtures.py running sacrebleu 2.6.0, rouge-score 0.1.2 and NLTK 3.10).

use lmgauge::metrics::bleu::{BleuConfig, Smooth, Tokenizer};
use lmgauge::metrics::chrf::ChrfConfig;
use lmgauge::metrics::porter;
use lmgauge::metrics::rouge::{RougeScorer, RougeType};
use serde_json::Value;

use crate::common::{fixture, repo};

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(&format!("metrics/{name}"))).unwrap()).unwrap()
}

fn lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("data/wmt17-en-de").join(name)).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).split('\n').map(str::to_owned).collect()
}

fn stream(name: &str) -> Vec<String> {
    if name == "ref" { lines("newstest2017.ref.de") } else { lines(&format!("newstest2017.{name}.hyp.de")) }
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 * a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

#[test]
fn bleu_matches_sacrebleu_on_wmt17() {
    let fx = json("sacrebleu-wmt17.json");
    for case in fx["bleu"].as_array().unwrap() {
        let cfg = BleuConfig {
            tokenizer: Tokenizer::from_name(case["tokenize"].as_str().unwrap()).unwrap(),
            smooth: Smooth::from_name(case["smooth"].as_str().unwrap()).unwrap(),
            lowercase: case["lowercase"].as_bool().unwrap(),
            ..BleuConfig::default()
        };
        let hyps = stream(case["system"].as_str().unwrap());
        let refs: Vec<Vec<String>> =
            case["refs"].as_array().unwrap().iter().map(|r| stream(r.as_str().unwrap())).collect();
        let s = cfg.corpus_score(&hyps, &refs);
        let what = format!("{} {} {} lc={}", case["system"], case["tokenize"], case["smooth"], case["lowercase"]);
        close(s.score, case["score"].as_f64().unwrap(), &what);
        close(s.bp, case["bp"].as_f64().unwrap(), &what);
        assert_eq!(s.sys_len, case["sys_len"].as_u64().unwrap(), "{what}");
        assert_eq!(s.ref_len, case["ref_len"].as_u64().unwrap(), "{what}");
        for k in 0..4 {
            close(s.counts[k], case["counts"][k].as_f64().unwrap(), &what);
            close(s.totals[k], case["totals"][k].as_f64().unwrap(), &what);
            close(s.precisions[k], case["precisions"][k].as_f64().unwrap(), &what);
        }
        assert_eq!(cfg.signature(refs.len()), case["signature"].as_str().unwrap(), "{what}");
    }
    // uedin-nmt's official WMT17 figure.
    let uedin = BleuConfig::default().corpus_score(&stream("uedin-nmt.4722"), &[stream("ref")]);
    assert!((uedin.score - 28.30).abs() < 0.005, "{}", uedin.score);
}

#[test]
fn sentence_bleu_and_chrf_match_sacrebleu() {
    let fx = json("sacrebleu-wmt17.json");
    let (hyps, refs) = (stream("uedin-nmt.4722"), stream("ref"));
    let cfg = BleuConfig { effective_order: true, ..BleuConfig::default() };
    for (i, want) in fx["sentence_bleu_uedin_first300"].as_array().unwrap().iter().enumerate() {
        let s = cfg.score(&cfg.segment_stats(&hyps[i], &[&refs[i]]));
        close(s.score, want.as_f64().unwrap(), &format!("sentence {i}"));
    }
    for case in fx["chrf"].as_array().unwrap() {
        let c = ChrfConfig { word_order: case["word_order"].as_u64().unwrap() as usize, ..ChrfConfig::default() };
        let score = c.corpus_score(&stream(case["system"].as_str().unwrap()), std::slice::from_ref(&refs));
        close(score, case["score"].as_f64().unwrap(), &format!("chrF {}", case["system"]));
        assert_eq!(c.signature(1), case["signature"].as_str().unwrap());
    }
    let kit = stream("KIT.4950");
    for (key, wo) in [("sentence_chrf_kit_first300", 0), ("sentence_chrfpp_kit_first300", 2)] {
        let c = ChrfConfig { word_order: wo, ..ChrfConfig::default() };
        for (i, want) in fx[key].as_array().unwrap().iter().enumerate() {
            close(c.f_score(&c.segment_stats(&kit[i], &[&refs[i]])), want.as_f64().unwrap(), &format!("{key} {i}"));
        }
    }
}

#[test]
fn edge_cases_match_sacrebleu() {
    let fx = json("sacrebleu-edges.json");
    let hyps: Vec<String> = fx["hyps"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let refs: Vec<String> = fx["refs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let sent = BleuConfig { effective_order: true, ..BleuConfig::default() };
    let chrf = ChrfConfig::default();
    for i in 0..hyps.len() {
        close(
            sent.score(&sent.segment_stats(&hyps[i], &[&refs[i]])).score,
            fx["bleu_sentence"][i].as_f64().unwrap(),
            &format!("bleu edge {i}"),
        );
        close(
            chrf.f_score(&chrf.segment_stats(&hyps[i], &[&refs[i]])),
            fx["chrf_sentence"][i].as_f64().unwrap(),
            &format!("chrf edge {i}"),
        );
    }
    for tok in ["13a", "intl", "char", "none", "zh"] {
        let cfg = BleuConfig { tokenizer: Tokenizer::from_name(tok).unwrap(), ..BleuConfig::default() };
        let s = cfg.corpus_score(&hyps, std::slice::from_ref(&refs));
        close(s.score, fx["bleu_corpus"][tok]["score"].as_f64().unwrap(), &format!("edge corpus {tok}"));
        assert_eq!(s.sys_len, fx["bleu_corpus"][tok]["sys_len"].as_u64().unwrap(), "{tok}");
    }
}

fn rouge_triplet(v: &Value) -> [f64; 3] {
    [v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap()]
}

#[test]
fn rouge_matches_rouge_score() {
    let fx = json("rouge-hh.json");
    let pairs = fx["pairs"].as_array().unwrap();
    for (mode, stem) in [("plain", false), ("stem", true)] {
        let scorer = RougeScorer { types: RougeType::ALL.to_vec(), stem };
        for (i, pair) in pairs.iter().enumerate() {
            let got = scorer.score(pair["target"].as_str().unwrap(), pair["prediction"].as_str().unwrap());
            for (ty, s) in got {
                let want = rouge_triplet(&fx["scores"][mode][i][ty.name()]);
                for (a, b) in [s.precision, s.recall, s.fmeasure].iter().zip(want) {
                    close(*a, b, &format!("{mode} pair {i} {}", ty.name()));
                }
            }
        }
    }
    let scorer = RougeScorer { types: RougeType::ALL.to_vec(), stem: true };
    for (i, case) in fx["multi"].as_array().unwrap().iter().chain(fx["edges"].as_array().unwrap()).enumerate() {
        let targets: Vec<&str> = match case.get("targets") {
            Some(t) => t.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect(),
            None => vec![case["target"].as_str().unwrap()],
        };
        for (ty, s) in scorer.score_multi(&targets, case["prediction"].as_str().unwrap()) {
            let want = rouge_triplet(&case["scores"][ty.name()]);
            for (a, b) in [s.precision, s.recall, s.fmeasure].iter().zip(want) {
                close(*a, b, &format!("multi/edge {i} {}", ty.name()));
            }
        }
    }
}

#[test]
fn porter_stems_equal_nltk_on_24k_words() {
    let text = std::fs::read_to_string(fixture("metrics/porter.tsv")).unwrap();
    let mut n = 0;
    let mut wrong = Vec::new();
    for line in text.lines() {
        let (word, want) = line.split_once('\t').unwrap();
        if porter::stem(word) != want {
            wrong.push(format!("{word}: {} (nltk {want})", porter::stem(word)));
        }
        n += 1;
    }
    assert!(n >= 20_000);
    assert!(wrong.is_empty(), "{} of {n} differ: {:?}", wrong.len(), &wrong[..wrong.len().min(20)]);
}
