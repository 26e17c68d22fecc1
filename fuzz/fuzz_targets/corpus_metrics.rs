//! libFuzzer target: corpus-level chrF and ROUGE over arbitrary line-aligned text (empty lines,
//! one very long line, any Unicode) with their resampling: chrF's paired bootstrap and
//! randomization tests and ROUGE's bootstrap low/mid/high, with resample counts from the input
//! (zero included). Input: one byte of resamples, then references and hypotheses split by 0xFF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::metrics::chrf::{item_stats, ChrfConfig};
use lmgauge::metrics::rouge::{RougeScorer, RougeType};
use lmgauge::metrics::stats;

fuzz_target!(|data: &[u8]| {
    let Some((&resamples, rest)) = data.split_first() else {
        return;
    };
    let resamples = usize::from(resamples % 16);
    let Some(i) = rest.iter().position(|&b| b == 0xFF) else {
        return;
    };
    let (Ok(refs), Ok(hyps)) = (
        std::str::from_utf8(&rest[..i]),
        std::str::from_utf8(&rest[i + 1..]),
    ) else {
        return;
    };
    let refs: Vec<String> = refs.split('\n').map(str::to_owned).collect();
    let mut hyps: Vec<String> = hyps.split('\n').map(str::to_owned).collect();
    hyps.resize(refs.len(), String::new());
    for word_order in [0, 2] {
        let cfg = ChrfConfig {
            word_order,
            ..ChrfConfig::default()
        };
        let streams = [refs.clone()];
        let base = item_stats(&cfg, &cfg.corpus_stats(&refs, &streams));
        let sys = item_stats(&cfg, &cfg.corpus_stats(&hyps, &streams));
        let score = sys.score_all();
        assert!(
            score.is_nan() || (0.0..=100.0 + 1e-9).contains(&score),
            "{score}"
        );
        let _ = stats::paired_bootstrap(&base, &sys, resamples, &mut stats::stream(1, "fuzz"));
        let _ = stats::paired_approximate_randomization(
            &base,
            &sys,
            resamples,
            &mut stats::stream(1, "fuzz"),
        );
    }
    let scorer = RougeScorer {
        types: RougeType::ALL.to_vec(),
        stem: true,
    };
    let scores: Vec<Vec<f64>> = refs
        .iter()
        .zip(&hyps)
        .map(|(r, h)| {
            scorer
                .score(r, h)
                .into_iter()
                .map(|(_, s)| s.fmeasure)
                .collect()
        })
        .collect();
    let series: Vec<Vec<f64>> = (0..RougeType::ALL.len())
        .map(|k| scores.iter().map(|s| s[k]).collect())
        .collect();
    let refs: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
    for (lo, mid, hi) in
        stats::bootstrap_low_mid_high_many(&refs, resamples, &mut stats::stream(1, "rouge"))
    {
        assert!(
            resamples == 0 || (lo <= mid && mid <= hi),
            "{lo} {mid} {hi}"
        );
    }
});
