//! lmgauge's trainer and query against KenLM's own output (fixtures written by
//! scripts/kenlm-fixtures.sh running lmplz and query on WikiText-2 and Moby-Dick).

use std::collections::HashMap;

use lmgauge::models::ngram::arpa::read_arpa_file;
use lmgauge::models::ngram::{ArpaModel, Corpus, DEFAULT_FALLBACK, QueryLm, SpecialSymbols, TrainOptions, estimate};

use crate::common::{fixture, lmgauge, rel, repo, stdout};

type Entries = HashMap<(usize, String), (f32, Option<f32>)>;

fn entries(m: &ArpaModel) -> Entries {
    let mut out = HashMap::new();
    for t in &m.orders {
        for i in 0..t.len() {
            let words: Vec<&str> = t.gram(i).iter().map(|&w| m.words[w as usize].as_str()).collect();
            out.insert((t.order, words.join(" ")), (t.log10_prob[i], t.log10_backoff.get(i).copied()));
        }
    }
    out
}

fn train(text: &str, order: usize, fallback: bool, prune: Vec<u64>) -> Result<ArpaModel, String> {
    let corpus = Corpus::read(&fixture(&format!("kenlm/{text}")), SpecialSymbols::Skip).map_err(|e| e.to_string())?;
    let opts = TrainOptions { order, discount_fallback: fallback.then_some(DEFAULT_FALLBACK), prune };
    estimate(&corpus, &opts).map(|(m, _)| m).map_err(|e| e.to_string())
}

/// Every n-gram lmplz wrote is ours, none extra, probabilities and backoffs within 1e-5 (log10).
fn assert_same_model(ours: &ArpaModel, reference: &str) {
    let theirs = read_arpa_file(&fixture(&format!("kenlm/{reference}"))).expect("fixture loads");
    for (k, (a, b)) in ours.orders.iter().zip(&theirs.orders).enumerate() {
        assert_eq!(a.len(), b.len(), "{reference}: {}-gram count", k + 1);
    }
    let (a, b) = (entries(ours), entries(&theirs));
    assert_eq!(a.len(), b.len(), "{reference}: entry count");
    for (key, (p, bo)) in &b {
        let (q, bq) = a.get(key).unwrap_or_else(|| panic!("{reference}: missing {key:?}"));
        assert!((p - q).abs() <= 1e-5, "{reference} {key:?}: prob {q} vs lmplz {p}");
        match (bo, bq) {
            (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-5, "{reference} {key:?}: backoff {y} vs lmplz {x}"),
            (None, None) => {}
            _ => panic!("{reference} {key:?}: backoff presence differs"),
        }
    }
}

#[test]
fn training_matches_lmplz_on_wikitext_orders_2_to_5() {
    for order in 2..=5 {
        let ours = train("wiki-train.txt", order, false, vec![]).unwrap();
        assert_same_model(&ours, &format!("wiki-{order}.arpa.gz"));
    }
}

#[test]
fn training_matches_lmplz_on_moby_dick() {
    for order in 2..=3 {
        let ours = train("moby-train.txt", order, false, vec![]).unwrap();
        assert_same_model(&ours, &format!("moby-{order}.arpa.gz"));
    }
}

#[test]
fn pruning_matches_lmplz() {
    let ours = train("wiki-train.txt", 4, false, vec![0, 1, 1]).unwrap();
    assert_same_model(&ours, "wiki-4-prune011.arpa.gz");
}

#[test]
fn discount_out_of_range_is_refused_like_lmplz_then_falls_back() {
    // Real text: the 4-gram discount for adjusted count 3 is negative on this slice.
    let refusal = std::fs::read_to_string(fixture("kenlm/moby-4-refusal.txt")).unwrap();
    let value = refusal.split("adjusted count 3: ").nth(1).unwrap().split('.').take(2).collect::<Vec<_>>().join(".");
    let err = train("moby-train.txt", 4, false, vec![]).unwrap_err();
    assert!(err.contains("4-gram discount out of range for adjusted count 3"), "{err}");
    assert!(err.contains(&value[..6]), "{err} should report lmplz's value {value}");
    assert!(err.contains("--discount-fallback"), "{err}");
    for order in 4..=5 {
        let ours = train("moby-train.txt", order, true, vec![]).unwrap();
        assert_same_model(&ours, &format!("moby-{order}.arpa.gz"));
    }
    // Too little data for any discount: same refusal (order and counts named), same fallback model.
    let err = train("tiny.txt", 3, false, vec![]).unwrap_err();
    let lmplz = std::fs::read_to_string(fixture("kenlm/tiny-3-refusal.txt")).unwrap();
    assert!(lmplz.contains("1-grams with adjusted count 4") && lmplz.contains("adjusted count 3"));
    assert!(err.contains("1-grams with adjusted count 4") && err.contains("adjusted count 3"), "{err}");
    assert_same_model(&train("tiny.txt", 3, true, vec![]).unwrap(), "tiny-3-fallback.arpa.gz");
}

#[derive(serde::Deserialize)]
struct QueryFixture {
    query_text: String,
    line_totals_log10: Vec<f64>,
    perplexity_including_oov: f64,
    perplexity_excluding_oov: f64,
    oov: u64,
    tokens: u64,
}

fn query_fixtures() -> HashMap<String, QueryFixture> {
    serde_json::from_slice(&std::fs::read(fixture("kenlm/query.json")).unwrap()).unwrap()
}

fn query_lines(name: &str) -> String {
    let text = std::fs::read_to_string(fixture(&format!("kenlm/{name}"))).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// Through the tables built in memory from the ARPA file and through the binary file
/// `lmgauge ngram build` writes from them, mapped back.
#[test]
fn query_matches_kenlm_query() {
    let dir = tempfile::tempdir().unwrap();
    for (name, fx) in query_fixtures() {
        let model = read_arpa_file(&fixture(&format!("kenlm/{name}.arpa.gz"))).unwrap();
        let binary = dir.path().join(format!("{name}.lmgauge-ngram"));
        QueryLm::new(&model).write_binary(&binary).unwrap();
        for lm in [QueryLm::new(&model), QueryLm::open_binary(&binary).unwrap()] {
            check_query(&name, &fx, &lm);
        }
    }
}

fn check_query(name: &str, fx: &QueryFixture, lm: &QueryLm) {
    {
        let text = query_lines(&fx.query_text);
        let stats = lm.score_lines(text.split('\n'));
        assert_eq!(stats.tokens, fx.tokens, "{name}");
        assert_eq!(stats.oov, fx.oov, "{name}");
        assert!(
            rel(stats.perplexity_including_oov, fx.perplexity_including_oov) <= 1e-6,
            "{name}: {} vs {}",
            stats.perplexity_including_oov,
            fx.perplexity_including_oov
        );
        assert!(rel(stats.perplexity_excluding_oov, fx.perplexity_excluding_oov) <= 1e-6, "{name}");
        let mut scores = Vec::new();
        for (line, &expected) in text.split('\n').zip(&fx.line_totals_log10) {
            scores.clear();
            lm.score_sentence(line, &mut scores);
            let total: f32 = scores.iter().map(|s| s.log10_prob).sum();
            assert!(
                (total as f64 - expected).abs() <= 1e-6 * expected.abs().max(1.0) + 1e-5,
                "{name}: line {line:?}: {total} vs {expected}"
            );
        }
    }
}

#[test]
fn our_trained_models_score_like_kenlm_query_on_lmplz_models() {
    let fixtures = query_fixtures();
    for order in 2..=5 {
        let ours = train("wiki-train.txt", order, false, vec![]).unwrap();
        let fx = &fixtures[&format!("wiki-{order}")];
        let stats = QueryLm::new(&ours).score_lines(query_lines(&fx.query_text).split('\n'));
        assert!(rel(stats.perplexity_including_oov, fx.perplexity_including_oov) <= 1e-6, "order {order}");
        assert!(rel(stats.perplexity_excluding_oov, fx.perplexity_excluding_oov) <= 1e-6, "order {order}");
    }
}

#[test]
fn cli_train_and_query_json() {
    let dir = tempfile::tempdir().unwrap();
    let arpa = dir.path().join("m.arpa");
    let train_txt = fixture("kenlm/wiki-train.txt");
    let o = lmgauge(
        &repo(),
        &[
            "ngram",
            "train",
            "--order",
            "3",
            "--input",
            train_txt.to_str().unwrap(),
            "--arpa",
            arpa.to_str().unwrap(),
            "--skip-symbols",
        ],
    );
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let query_txt = fixture("kenlm/wiki-query.txt");
    let o = lmgauge(
        &repo(),
        &["ngram", "query", "--arpa", arpa.to_str().unwrap(), "--input", query_txt.to_str().unwrap(), "--json"],
    );
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let fx = &query_fixtures()["wiki-3"];
    for key in ["sentences", "tokens", "oov", "log10_prob", "perplexity_including_oov", "perplexity_excluding_oov"] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["tokens"].as_u64(), Some(fx.tokens));
    assert_eq!(json["sentences"].as_u64(), Some(300));
    assert!(rel(json["perplexity_including_oov"].as_f64().unwrap(), fx.perplexity_including_oov) <= 1e-6);
    // Without --skip-symbols, the literal <unk> in WikiText is refused with file and line.
    let o = lmgauge(
        &repo(),
        &["ngram", "train", "--order", "3", "--input", train_txt.to_str().unwrap(), "--arpa", arpa.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = crate::common::stderr(&o);
    assert!(err.contains("wiki-train.txt:") && err.contains("<unk>"), "{err}");
}

#[test]
fn perplexity_command_agrees_with_kenlm_query_numbers() {
    // Non-blank lines only, so the items are exactly KenLM's sentences.
    let text: String =
        query_lines("wiki-query.txt").split('\n').filter(|l| !l.trim().is_empty()).map(|l| format!("{l}\n")).collect();
    let dir = crate::common::workspace(&[("q.txt", &text)]);
    let arpa = fixture("kenlm/wiki-4.arpa.gz");
    let o = lmgauge(dir.path(), &["perplexity", "--model", arpa.to_str().unwrap(), "--input", "q.txt", "--json"]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let p: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let o = lmgauge(dir.path(), &["ngram", "query", "--arpa", arpa.to_str().unwrap(), "--input", "q.txt", "--json"]);
    let q: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(p["tokens"].as_f64().unwrap() as u64, q["tokens"].as_u64().unwrap());
    assert!(rel(p["token_perplexity"].as_f64().unwrap(), q["perplexity_including_oov"].as_f64().unwrap()) <= 1e-6);
    let nll = p["nll"].as_f64().unwrap();
    assert!(rel(nll, -q["log10_prob"].as_f64().unwrap() * std::f64::consts::LN_10) <= 1e-6);
    assert!(
        rel(p["bits_per_byte"].as_f64().unwrap(), nll / (p["bytes"].as_f64().unwrap() * std::f64::consts::LN_2))
            <= 1e-12
    );
}
