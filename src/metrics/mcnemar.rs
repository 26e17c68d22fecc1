//! Tests of paired binary outcomes: McNemar's exact test for two classifiers scored on the same
//! items, and Holm's step-down correction for a family of such tests (every two models of a
//! task). Used for minimal-pair accuracy, where each item is right or wrong for each model.

use statrs::distribution::{Binomial, DiscreteCDF};

/// McNemar's exact (binomial) test: `b` items only the first model gets right, `c` only the
/// second. Two-sided p-value: twice the smaller binomial tail of Bin(b + c, ½), at most 1; 1 when
/// the models never disagree.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let Ok(dist) = Binomial::new(0.5, n) else { return 1.0 };
    (2.0 * dist.cdf(b.min(c))).min(1.0)
}

/// Holm's step-down adjustment of a family of p-values, returned in the input order: the i-th
/// smallest is multiplied by (m − i), made monotone, and capped at 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_scipy_binomtest() {
        // scipy.stats.binomtest(k, n, 0.5).pvalue, two-sided (symmetric, so 2 × the smaller tail).
        assert!((mcnemar_exact(2, 8) - 0.109375).abs() < 1e-12);
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-12);
        assert!((mcnemar_exact(10, 10) - 1.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // 3 vs 15: 2 × P(X ≤ 3), X ~ Bin(18, ½) = 2 × 988/262144.
        assert!((mcnemar_exact(3, 15) - 2.0 * 988.0 / 262144.0).abs() < 1e-12);
    }

    #[test]
    fn holm_steps_down_and_stays_monotone() {
        let got = holm(&[0.01, 0.04, 0.03, 0.5]);
        let want = [0.04, 0.09, 0.09, 0.5];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
    }
}
