//! Agreement between a judge's scores and people's, as the meta-evaluation literature computes
//! it: Pearson's r, Spearman's ρ (average ranks for ties) and Kendall's τ-b, each equal to
//! scipy.stats' `pearsonr`, `spearmanr` and `kendalltau` (τ-b, its default); and the WMT19
//! relative-ranking "Kendall's τ-like" over better/worse pairs, where a judge's tie counts as
//! discordant (Ma et al., WMT19 metrics task).
//!
//! A statistic that is undefined — fewer than two items, a judge or a rating that gives every
//! item the same value — is `None`, never a NaN to be printed as a number or averaged away.

/// Pearson's r of paired values, or `None` when it is undefined.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    // scipy clips to [-1, 1] against rounding.
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's ρ: Pearson's r of the ranks, ties given their average rank.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    pearson(&ranks(x), &ranks(y))
}

/// Ranks from 1, tied values sharing the mean of the ranks they span (scipy's `rankdata`).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            out[k] = rank;
        }
        i = j;
    }
    out
}

/// Kendall's τ-b: (concordant − discordant) / √((n₀ − n₁)(n₀ − n₂)), with n₁ and n₂ the pairs
/// tied in x and in y. O(n²) over the pairs, exact in integers.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    let n = x.len();
    let (mut concordant, mut discordant, mut tied_x, mut tied_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let (dx, dy) = (x[i].total_cmp(&x[j]), y[i].total_cmp(&y[j]));
            use std::cmp::Ordering::Equal;
            match (dx, dy) {
                (Equal, Equal) => {
                    tied_x += 1;
                    tied_y += 1;
                }
                (Equal, _) => tied_x += 1,
                (_, Equal) => tied_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let pairs = (n * n.saturating_sub(1) / 2) as i64;
    let denominator = ((pairs - tied_x) as f64) * ((pairs - tied_y) as f64);
    if denominator <= 0.0 {
        return None;
    }
    Some((concordant - discordant) as f64 / denominator.sqrt())
}

/// Counts behind the WMT19 daRR statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DarrCounts {
    pub concordant: u64,
    /// Pairs the judge orders against people, and pairs it ties.
    pub discordant: u64,
    /// Of the discordant pairs, those the judge ties.
    pub ties: u64,
}

impl DarrCounts {
    /// Counts (judge's score of the better translation, of the worse one) pairs.
    pub fn of(pairs: impl IntoIterator<Item = (f64, f64)>) -> DarrCounts {
        let mut c = DarrCounts::default();
        for (better, worse) in pairs {
            if better > worse {
                c.concordant += 1;
            } else {
                c.discordant += 1;
                if better == worse {
                    c.ties += 1;
                }
            }
        }
        c
    }

    /// WMT19's Kendall's τ-like: (C − D) / (C + D), a judge's tie discordant; `None` without pairs.
    pub fn tau_like(&self) -> Option<f64> {
        let total = self.concordant + self.discordant;
        (total > 0).then(|| (self.concordant as f64 - self.discordant as f64) / total as f64)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    // Expected values from scipy 1.17: pearsonr, spearmanr and kendalltau (τ-b).
    const X: [f64; 8] = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 9.0];
    const Y: [f64; 8] = [2.0, 1.0, 4.0, 4.0, 3.0, 8.0, 8.0, 7.0];

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&X), vec![1.0, 2.5, 2.5, 4.0, 6.0, 6.0, 6.0, 8.0]);
    }

    #[test]
    fn tau_b_counts_ties_as_scipy_does() {
        // 18 concordant, 5 discordant, 3 pairs tied in x only, 1 in y only, 1 in both (of 28):
        // (18 − 5) / √((28 − 4)(28 − 2)); scipy.stats.kendalltau gives 0.5204164998665333.
        assert!(close(kendall_tau_b(&X, &Y), 13.0 / (24.0f64 * 26.0).sqrt()));
        assert!(close(kendall_tau_b(&X, &Y), 0.5204164998665333));
    }

    #[test]
    fn pearson_and_spearman_equal_scipy() {
        assert!(close(pearson(&X, &Y), 0.6960187614506177), "{:?}", pearson(&X, &Y));
        assert!(close(spearman(&X, &Y), 0.6895607149652165), "{:?}", spearman(&X, &Y));
    }

    #[test]
    fn undefined_statistics_are_none() {
        let flat = [3.0; 5];
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(pearson(&flat, &v), None);
        assert_eq!(spearman(&v, &flat), None);
        assert_eq!(kendall_tau_b(&flat, &v), None);
        assert_eq!(pearson(&[1.0], &[2.0]), None);
        assert_eq!(DarrCounts::of([]).tau_like(), None);
    }

    #[test]
    fn perfect_and_reversed_orders() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        let r: Vec<f64> = v.iter().rev().copied().collect();
        for f in [pearson, spearman, kendall_tau_b] {
            assert!(close(f(&v, &v), 1.0) && close(f(&v, &r), -1.0));
        }
    }

    #[test]
    fn darr_ties_are_discordant() {
        let c = DarrCounts::of([(0.9, 0.1), (0.5, 0.5), (0.2, 0.4), (0.7, 0.3)]);
        assert_eq!(c, DarrCounts { concordant: 2, discordant: 2, ties: 1 });
        assert_eq!(c.tau_like(), Some(0.0));
    }
}
