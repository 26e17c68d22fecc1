//! Seeded resampling statistics: bootstrap confidence intervals over items.
//!
//! Every random stream is derived from the suite seed and a label (task, model), so results do
//! not depend on scheduling or on which other jobs ran. Intervals use sacrebleu's percentile
//! convention: sort the resampled statistics and take indices `n/40` and `n − n/40 − 1`
//! (a 95% interval).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// The most resamples (or randomization trials) a suite or command may ask for: beyond it the
/// interval's percentiles no longer move, while time grows linearly.
pub const MAX_RESAMPLES: usize = 1_000_000;

/// Resamples drawn (sequentially, so the stream is the same) and scored (in parallel) at a
/// time: memory stays one chunk of index vectors whatever the resample count.
const CHUNK: usize = 256;

/// A deterministic random stream for `(seed, label)`.
pub fn stream(seed: u64, label: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(label.as_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 32];
    key.copy_from_slice(&digest[..32]);
    ChaCha8Rng::from_seed(key)
}

/// A uniform index in `0..n` without bias (Lemire's multiply-shift with rejection).
pub fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    debug_assert!(n > 0);
    let n = n as u64;
    let mut m = rng.next_u64() as u128 * n as u128;
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = rng.next_u64() as u128 * n as u128;
        }
    }
    (m >> 64) as usize
}

/// `resamples` bootstrap samples of `0..n` (with replacement), each passed to `statistic`.
pub fn bootstrap<T>(
    n: usize,
    resamples: usize,
    rng: &mut ChaCha8Rng,
    mut statistic: impl FnMut(&[usize]) -> T,
) -> Vec<T> {
    let mut sample = vec![0usize; n];
    (0..resamples)
        .map(|_| {
            for s in sample.iter_mut() {
                *s = below(rng, n);
            }
            statistic(&sample)
        })
        .collect()
}

/// The 95% percentile interval of resampled values (sacrebleu's index convention); `None` when
/// there are none or a value is not finite.
pub fn percentile_interval(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let lo = sorted.len() / 40;
    let hi = sorted.len() - lo - 1;
    Some((sorted[lo], sorted[hi]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = stream(1, "x");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = stream(1, "x");
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = stream(1, "y");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn interval_of_mean_covers_truth() {
        let data: Vec<f64> = (0..200).map(|i| (i % 10) as f64).collect();
        let mut rng = stream(7, "mean");
        let means = bootstrap(data.len(), 1000, &mut rng, |s| s.iter().map(|&i| data[i]).sum::<f64>() / s.len() as f64);
        let (lo, hi) = percentile_interval(&means).unwrap();
        assert!(lo < 4.5 && 4.5 < hi, "{lo} {hi}");
        assert!(hi - lo < 1.5);
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = stream(3, "b");
        assert!((0..1000).all(|_| below(&mut rng, 7) < 7));
    }
}

/// The score of a sum of item rows.
pub type Scorer<'a> = Box<dyn Fn(&[f64]) -> f64 + Sync + 'a>;

/// Per-item sufficient statistics of a corpus metric and how to score their sum: BLEU and chrF
/// sum counts, ROUGE averages per-pair scores (rows carry a count column for that).
pub struct ItemStats<'a> {
    pub rows: Vec<Vec<f64>>,
    pub score: Scorer<'a>,
}

impl ItemStats<'_> {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn width(&self) -> usize {
        self.rows.first().map(|r| r.len()).unwrap_or(0)
    }

    /// The corpus score of the items at `indices` (with repetition).
    pub fn score_of(&self, indices: &[usize]) -> f64 {
        let mut sum = vec![0.0; self.width()];
        for &i in indices {
            for (a, b) in sum.iter_mut().zip(&self.rows[i]) {
                *a += b;
            }
        }
        (self.score)(&sum)
    }

    pub fn score_all(&self) -> f64 {
        let all: Vec<usize> = (0..self.len()).collect();
        self.score_of(&all)
    }
}

/// Outcome of a paired significance test of a system against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairedResult {
    pub baseline: f64,
    pub system: f64,
    pub p_value: f64,
    /// Mean of the system's resampled scores and half the width of their 95% interval
    /// (sacrebleu's `mean ± ci`); present for the bootstrap test.
    pub mean: Option<f64>,
    pub ci: Option<f64>,
}

/// sacrebleu's p-value: `(#(stats > observed) + 1) / (n + 1)`.
pub fn p_value(stats: &[f64], observed: f64) -> f64 {
    let c = stats.iter().filter(|&&s| s > observed).count();
    (c as f64 + 1.0) / (stats.len() as f64 + 1.0)
}

/// sacrebleu's `estimate_ci`: the mean and half the width of the percentile interval.
pub fn estimate_ci(scores: &[f64]) -> (f64, f64) {
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let (lo, hi) = percentile_interval(scores).unwrap_or((f64::NAN, f64::NAN));
    (mean, 0.5 * (hi - lo))
}

/// Paired bootstrap resampling (sacrebleu's `paired_bs`, after Koehn 2004): both systems are
/// scored on the same resamples; the p-value counts resampled |Δ| (centred on their mean) that
/// exceed the observed |Δ|.
pub fn paired_bootstrap(
    baseline: &ItemStats,
    system: &ItemStats,
    resamples: usize,
    rng: &mut ChaCha8Rng,
) -> PairedResult {
    use rayon::prelude::*;
    let n = baseline.len();
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(resamples);
    for start in (0..resamples).step_by(CHUNK) {
        let samples: Vec<Vec<usize>> =
            (start..resamples.min(start + CHUNK)).map(|_| (0..n).map(|_| below(rng, n)).collect()).collect();
        pairs.par_extend(samples.par_iter().map(|s| (baseline.score_of(s), system.score_of(s))));
    }
    let (bl, sys) = (baseline.score_all(), system.score_all());
    let diffs: Vec<f64> = pairs.iter().map(|(b, s)| (s - b).abs()).collect();
    let mean_diff = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let centred: Vec<f64> = diffs.iter().map(|d| d - mean_diff).collect();
    let sys_scores: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let (mean, ci) = estimate_ci(&sys_scores);
    PairedResult {
        baseline: bl,
        system: sys,
        p_value: paired_p(baseline, system, &centred, (bl - sys).abs()),
        mean: Some(mean),
        ci: Some(ci),
    }
}

/// The p-value of a paired test: two systems with identical per-item statistics (identical
/// outputs) are a tie, p = 1. sacrebleu's formula counts resamples whose difference strictly
/// exceeds the observed one, which for identical systems is none, p = 1/(n+1) ≈ 0.001: it read
/// as a significant difference between a system and itself. lmgauge departs from sacrebleu here
/// only.
fn paired_p(baseline: &ItemStats, system: &ItemStats, stats: &[f64], observed: f64) -> f64 {
    if baseline.rows == system.rows { 1.0 } else { p_value(stats, observed) }
}

/// Paired approximate randomization (sacrebleu's `paired_ar`): each trial swaps the two systems'
/// outputs item by item with probability ½; the p-value counts trials whose |Δ| exceeds the
/// observed one.
pub fn paired_approximate_randomization(
    baseline: &ItemStats,
    system: &ItemStats,
    trials: usize,
    rng: &mut ChaCha8Rng,
) -> PairedResult {
    use rayon::prelude::*;
    let n = baseline.len();
    let width = baseline.width();
    let mut diffs: Vec<f64> = Vec::with_capacity(trials);
    for start in (0..trials).step_by(CHUNK) {
        let masks: Vec<Vec<bool>> = (start..trials.min(start + CHUNK))
            .map(|_| {
                let mut m = Vec::with_capacity(n);
                while m.len() < n {
                    let bits = rng.next_u64();
                    for k in 0..64.min(n - m.len()) {
                        m.push(bits >> k & 1 == 1);
                    }
                }
                m
            })
            .collect();
        diffs.par_extend(masks.par_iter().map(|mask| {
            let (mut a, mut b) = (vec![0.0; width], vec![0.0; width]);
            for (i, &swap) in mask.iter().enumerate() {
                let (x, y) =
                    if swap { (&baseline.rows[i], &system.rows[i]) } else { (&system.rows[i], &baseline.rows[i]) };
                for k in 0..width {
                    a[k] += x[k];
                    b[k] += y[k];
                }
            }
            ((baseline.score)(&a) - (baseline.score)(&b)).abs()
        }));
    }
    let (bl, sys) = (baseline.score_all(), system.score_all());
    PairedResult {
        baseline: bl,
        system: sys,
        p_value: paired_p(baseline, system, &diffs, (bl - sys).abs()),
        mean: None,
        ci: None,
    }
}

/// rouge_score's `BootstrapAggregator`: 2.5th, 50th and 97.5th percentiles (linear
/// interpolation, as numpy) of the bootstrap means of per-pair values.
pub fn bootstrap_low_mid_high(values: &[f64], resamples: usize, rng: &mut ChaCha8Rng) -> (f64, f64, f64) {
    bootstrap_low_mid_high_many(&[values], resamples, rng)[0]
}

/// [`bootstrap_low_mid_high`] for several score series over the same items, all resampled with
/// the same indices (one draw serves every series).
pub fn bootstrap_low_mid_high_many(series: &[&[f64]], resamples: usize, rng: &mut ChaCha8Rng) -> Vec<(f64, f64, f64)> {
    let n = series.first().map(|s| s.len()).unwrap_or(0);
    let sums: Vec<Vec<f64>> = bootstrap(n, resamples, rng, |s| {
        series.iter().map(|v| s.iter().map(|&i| v[i]).sum::<f64>() / n as f64).collect()
    });
    (0..series.len()).map(|k| low_mid_high(sums.iter().map(|m| m[k]).collect())).collect()
}

fn low_mid_high(mut means: Vec<f64>) -> (f64, f64, f64) {
    if means.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    means.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| {
        let pos = q / 100.0 * (means.len() - 1) as f64;
        let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
        if lo + 1 < means.len() { means[lo] + (means[lo + 1] - means[lo]) * frac } else { means[lo] }
    };
    (pct(2.5), pct(50.0), pct(97.5))
}

#[cfg(test)]
mod paired_tests {
    use super::*;

    fn mean_stats(values: &[f64]) -> ItemStats<'static> {
        ItemStats { rows: values.iter().map(|&v| vec![v, 1.0]).collect(), score: Box::new(|s: &[f64]| s[0] / s[1]) }
    }

    #[test]
    fn equal_scores_are_not_significant() {
        // Same corpus score, different items: no evidence of a difference.
        let v: Vec<f64> = (0..300).map(|i| ((i * 37) % 11) as f64).collect();
        let w: Vec<f64> = (0..300).map(|i| v[(i + 1) % 300]).collect();
        let (a, b) = (mean_stats(&v), mean_stats(&w));
        let r = paired_bootstrap(&a, &b, 1000, &mut stream(1, "t"));
        assert!(r.p_value > 0.2, "{r:?}");
        let r = paired_approximate_randomization(&a, &b, 2000, &mut stream(1, "t"));
        assert!(r.p_value > 0.2, "{r:?}");
        // Literally identical outputs are a tie, p = 1 (sacrebleu's formula says 1/(n+1)).
        let r = paired_bootstrap(&a, &mean_stats(&v), 1000, &mut stream(1, "t"));
        assert_eq!(r.p_value, 1.0);
        assert!(r.mean.is_some(), "the interval is still reported");
        let r = paired_approximate_randomization(&a, &mean_stats(&v), 1000, &mut stream(1, "t"));
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn a_clear_difference_is_significant_and_p_respects_its_floor() {
        let a: Vec<f64> = (0..300).map(|i| ((i * 37) % 11) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let r = paired_approximate_randomization(&mean_stats(&a), &mean_stats(&b), 1000, &mut stream(2, "t"));
        assert!((r.p_value - 1.0 / 1001.0).abs() < 1e-12, "{r:?}");
        let r = paired_bootstrap(&mean_stats(&a), &mean_stats(&b), 1000, &mut stream(2, "t"));
        assert!(r.p_value < 0.01, "{r:?}");
        assert!((r.system - r.baseline - 1.0).abs() < 1e-12);
    }

    #[test]
    fn low_mid_high_bracket_the_mean() {
        let v: Vec<f64> = (0..500).map(|i| (i % 7) as f64 / 7.0).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, mid, hi) = bootstrap_low_mid_high(&v, 1000, &mut stream(3, "r"));
        assert!(lo < mean && mean < hi && (mid - mean).abs() < 0.01, "{lo} {mid} {hi} {mean}");
    }
}
