//! libFuzzer target: arbitrary text through every BLEU tokenizer, BLEU, chrF/chrF++ and ROUGE
//! (tokenizer, Porter stemmer, LCS), and arbitrary bytes through the JSONL reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::data::{parse_jsonl, FieldMap};
use lmgauge::metrics::bleu::{BleuConfig, Tokenizer};
use lmgauge::metrics::chrf::ChrfConfig;
use lmgauge::metrics::rouge::{RougeScorer, RougeType};

fuzz_target!(|data: &[u8]| {
    let _ = parse_jsonl(std::path::Path::new("fuzz.jsonl"), data, &FieldMap::default());
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (hyp, reference) = text.split_at(text.char_indices().nth(text.chars().count() / 2).map(|(i, _)| i).unwrap_or(0));
    for tok in Tokenizer::ALL {
        let cfg = BleuConfig { tokenizer: *tok, effective_order: true, ..BleuConfig::default() };
        let s = cfg.score(&cfg.segment_stats(hyp, &[reference]));
        assert!(s.score.is_nan() || (0.0..=100.0 + 1e-9).contains(&s.score));
    }
    for wo in [0, 2] {
        let c = ChrfConfig { word_order: wo, ..ChrfConfig::default() };
        let _ = c.f_score(&c.segment_stats(hyp, &[reference]));
    }
    let scorer = RougeScorer { types: RougeType::ALL.to_vec(), stem: true };
    for (_, s) in scorer.score(reference, hyp) {
        assert!((0.0..=1.0).contains(&s.fmeasure));
    }
});
