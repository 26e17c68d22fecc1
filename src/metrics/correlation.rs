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
/// tied in x and in y. Knight's O(n log n) algorithm, as scipy's `kendalltau` computes it: sort
/// by (x, y), count the inversions of y a merge sort undoes; exact in integers.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(y[a].total_cmp(&y[b])));
    let tied_pairs = |same: &dyn Fn(usize, usize) -> bool, order: &[usize]| -> i64 {
        let (mut total, mut run) = (0i64, 1i64);
        for k in 1..=order.len() {
            if k < order.len() && same(order[k - 1], order[k]) {
                run += 1;
            } else {
                total += run * (run - 1) / 2;
                run = 1;
            }
        }
        total
    };
    let tied_x = tied_pairs(&|a, b| x[a].total_cmp(&x[b]).is_eq(), &order);
    let tied_xy = tied_pairs(&|a, b| x[a].total_cmp(&x[b]).is_eq() && y[a].total_cmp(&y[b]).is_eq(), &order);
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let swaps = inversions(&mut ys);
    // `ys` is now sorted: ties in y are its runs.
    let idx: Vec<usize> = (0..n).collect();
    let tied_y = tied_pairs(&|a, b| ys[a].total_cmp(&ys[b]).is_eq(), &idx);
    let pairs = (n * n.saturating_sub(1) / 2) as i64;
    let denominator = ((pairs - tied_x) as f64) * ((pairs - tied_y) as f64);
    if denominator <= 0.0 {
        return None;
    }
    let concordant_minus_discordant = pairs - tied_x - tied_y + tied_xy - 2 * swaps;
    Some((concordant_minus_discordant as f64 / denominator.sqrt()).clamp(-1.0, 1.0))
}

/// Sorts `v` (merge sort) and returns how many pairs i < j had v[i] > v[j].
fn inversions(v: &mut [f64]) -> i64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mut buf = v.to_vec();
    let mut count = 0i64;
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                if v[j].total_cmp(&v[i]).is_lt() {
                    buf[k] = v[j];
                    count += (mid - i) as i64;
                    j += 1;
                } else {
                    buf[k] = v[i];
                    i += 1;
                }
                k += 1;
            }
            buf[k..k + (mid - i)].copy_from_slice(&v[i..mid]);
            let k = k + (mid - i);
            buf[k..k + (end - j)].copy_from_slice(&v[j..end]);
            start = end;
        }
        v.copy_from_slice(&buf);
        width *= 2;
    }
    count
}

/// WMT23's pairwise accuracy with tie calibration (acc-eq; Deutsch, Foster and Freitag 2023, as
/// mt-metrics-eval's `KendallWithTiesOpt(variant="acc23")` computes it): over every pair of
/// outputs within a group (the systems' outputs for one segment), a pair is right when the judge
/// orders it as people do, or when both tie it; the judge ties a pair when its scores differ by
/// at most ε, and ε is the value (0 or one of the pairs' differences) that maximises the accuracy.
/// Returns (accuracy, ε); `None` without pairs. Groups are (human, judge) score lists.
pub fn acc_eq(groups: &[(Vec<f64>, Vec<f64>)]) -> Option<(f64, f64)> {
    AccEqPairs::new(groups.iter().map(|(h, m)| (h.as_slice(), m.as_slice()))).accuracy(|_| 1)
}

/// The pairs behind [`acc_eq`], sorted by the judge's difference once: any weighting of the
/// groups (a bootstrap sample counts each group as often as it was drawn) is then one sweep.
pub struct AccEqPairs {
    /// Per pair: |judge difference|, whether people tie it, whether the judge's order is theirs,
    /// and its group.
    pairs: Vec<(f64, bool, bool, usize)>,
}

impl AccEqPairs {
    /// The pairs of outputs within each (human, judge) group.
    pub fn new<'a>(groups: impl IntoIterator<Item = (&'a [f64], &'a [f64])>) -> AccEqPairs {
        let mut pairs = Vec::new();
        for (g, (h, m)) in groups.into_iter().enumerate() {
            assert_eq!(h.len(), m.len(), "paired values");
            for i in 0..h.len() {
                for j in i + 1..h.len() {
                    let (dh, dm) = (h[i] - h[j], m[i] - m[j]);
                    let same_order = dh != 0.0 && dm != 0.0 && (dh > 0.0) == (dm > 0.0);
                    pairs.push((dm.abs(), dh == 0.0, same_order, g));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        AccEqPairs { pairs }
    }

    /// (accuracy, ε) with each group's pairs counted `weight(group)` times; `None` without pairs.
    pub fn accuracy(&self, weight: impl Fn(usize) -> i64) -> Option<(f64, f64)> {
        let pairs = &self.pairs;
        let total: i64 = pairs.iter().map(|p| weight(p.3)).sum();
        if total == 0 {
            return None;
        }
        // ε below every difference: no pair tied by the judge except exact ties, handled below.
        let mut correct: i64 = pairs.iter().map(|p| if p.2 { weight(p.3) } else { 0 }).sum();
        let mut best = (i64::MIN, 0.0);
        let mut k = 0;
        while k < pairs.len() {
            let eps = pairs[k].0;
            while k < pairs.len() && pairs[k].0 == eps {
                let (_, human_tie, ordered, g) = pairs[k];
                correct += weight(g) * (human_tie as i64 - ordered as i64);
                k += 1;
            }
            if correct > best.0 {
                best = (correct, eps);
            }
        }
        // ε = 0 is always a candidate (exact ties are ties); when no pair has a zero difference
        // the loop above never tried it.
        let at_zero: i64 =
            pairs.iter().map(|&(d, t, o, g)| weight(g) * if d == 0.0 { t as i64 } else { o as i64 }).sum();
        if at_zero >= best.0 {
            best = (at_zero, 0.0);
        }
        Some((best.0 as f64 / total as f64, best.1))
    }
}

/// Pairwise system accuracy (Kocmi et al. 2021): the share of system pairs the judge orders as
/// people do (a tie on either side is not agreement); `None` with fewer than two systems.
pub fn pairwise_accuracy(human: &[f64], judge: &[f64]) -> Option<f64> {
    assert_eq!(human.len(), judge.len(), "paired values");
    let (mut right, mut total) = (0u64, 0u64);
    for i in 0..human.len() {
        for j in i + 1..human.len() {
            let (dh, dm) = (human[i] - human[j], judge[i] - judge[j]);
            total += 1;
            if dh != 0.0 && dm != 0.0 && (dh > 0.0) == (dm > 0.0) {
                right += 1;
            }
        }
    }
    (total > 0).then(|| right as f64 / total as f64)
}

/// Holm's step-down adjustment of p-values (same order as given): the family-wise error of
/// calling each difference significant at 0.05 stays at 0.05.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
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

    /// The O(n²) definition, to check the fast τ-b against.
    fn tau_b_by_pairs(x: &[f64], y: &[f64]) -> Option<f64> {
        let n = x.len();
        let (mut c, mut d, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (x[i].total_cmp(&x[j]), y[i].total_cmp(&y[j]));
                match (dx.is_eq(), dy.is_eq()) {
                    (true, true) => {
                        tx += 1;
                        ty += 1
                    }
                    (true, false) => tx += 1,
                    (false, true) => ty += 1,
                    _ if dx == dy => c += 1,
                    _ => d += 1,
                }
            }
        }
        let p = (n * n.saturating_sub(1) / 2) as i64;
        let den = ((p - tx) as f64) * ((p - ty) as f64);
        (den > 0.0).then(|| (c - d) as f64 / den.sqrt())
    }

    #[test]
    fn fast_tau_b_equals_the_pairwise_definition() {
        let mut rng = crate::metrics::stats::stream(7, "tau");
        for n in [0, 1, 2, 3, 10, 57, 300] {
            for levels in [2, 5, 1000] {
                let x: Vec<f64> = (0..n).map(|_| crate::metrics::stats::below(&mut rng, levels) as f64).collect();
                let y: Vec<f64> = (0..n).map(|_| crate::metrics::stats::below(&mut rng, levels) as f64).collect();
                let (a, b) = (kendall_tau_b(&x, &y), tau_b_by_pairs(&x, &y));
                assert_eq!(a.is_some(), b.is_some(), "n {n} levels {levels}");
                if let (Some(a), Some(b)) = (a, b) {
                    assert!((a - b).abs() < 1e-12, "n {n} levels {levels}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn acc_eq_calibrates_ties() {
        // People tie the first two outputs; the judge nearly does (0.01 apart).
        let groups = vec![(vec![1.0, 1.0, 3.0], vec![0.50, 0.51, 0.9])];
        // ε = 0: pairs (0,1) wrong, (0,2) right, (1,2) right → 2/3. ε = 0.01: (0,1) tied by both → 3/3.
        let (acc, eps) = acc_eq(&groups).unwrap();
        assert!((acc - 1.0).abs() < 1e-12 && (eps - 0.01).abs() < 1e-9, "{acc} {eps}");
        // A judge that orders everything right needs no ε.
        let (acc, eps) = acc_eq(&[(vec![1.0, 2.0, 3.0], vec![0.1, 0.2, 0.3])]).unwrap();
        assert_eq!((acc, eps), (1.0, 0.0));
        assert_eq!(acc_eq(&[(vec![1.0], vec![2.0])]), None);
    }

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method="holm")
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        assert!(adj.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{adj:?}");
    }

    #[test]
    fn pairwise_accuracy_counts_agreeing_system_pairs() {
        assert_eq!(pairwise_accuracy(&[1.0, 2.0, 3.0], &[0.1, 0.3, 0.2]), Some(2.0 / 3.0));
        assert_eq!(pairwise_accuracy(&[1.0], &[0.1]), None);
    }

    #[test]
    fn darr_ties_are_discordant() {
        let c = DarrCounts::of([(0.9, 0.1), (0.5, 0.5), (0.2, 0.4), (0.7, 0.3)]);
        assert_eq!(c, DarrCounts { concordant: 2, discordant: 2, ties: 1 });
        assert_eq!(c.tau_like(), Some(0.0));
    }
}
