//! Seeded resampling statistics: bootstrap confidence intervals over items.
//!
//! Every random stream is derived from the suite seed and a label (task, model), so results do
//! not depend on scheduling or on which other jobs ran. Intervals use sacrebleu's percentile
//! convention: sort the resampled statistics and take indices `n/40` and `n − n/40 − 1`
//! (a 95% interval).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

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

/// A uniform index in `0..n` without modulo bias.
pub fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    debug_assert!(n > 0);
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// `resamples` bootstrap samples of `0..n` (with replacement), each passed to `statistic`.
pub fn bootstrap<T>(n: usize, resamples: usize, rng: &mut ChaCha8Rng, mut statistic: impl FnMut(&[usize]) -> T) -> Vec<T> {
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
        let a: Vec<u64> = (0..4).map({ let mut r = stream(1, "x"); move |_| r.next_u64() }).collect();
        let b: Vec<u64> = (0..4).map({ let mut r = stream(1, "x"); move |_| r.next_u64() }).collect();
        let c: Vec<u64> = (0..4).map({ let mut r = stream(1, "y"); move |_| r.next_u64() }).collect();
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
