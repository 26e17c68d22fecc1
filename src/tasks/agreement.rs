//! How far a judge's scores of rated outputs agree with people's, at the levels the
//! meta-evaluation literature reports: over every rated output (segment level), per item then the
//! mean (SummEval's summary level, mt-metrics-eval's item grouping), over the systems' scores
//! (system level), and WMT19's τ-like over better/worse pairs. Every statistic is a function of
//! a sample of items (segments or documents), so bootstrap intervals and PERM-BOTH significance
//! between two judges resample the same unit; an undefined statistic is `None`.

use rayon::prelude::*;

use super::ratings::Ratings;
use crate::metrics::Metric;
use crate::metrics::correlation::{
    AccEqPairs, DarrCounts, acc_eq, kendall_tau_b, pairwise_accuracy, pearson, spearman,
};
use crate::metrics::stats;
use rand_chacha::ChaCha8Rng;

/// A judge's scores of every output (NaN where it gave none), and how a system's score is made
/// from its outputs' (`corpus`: from summed statistics; else their mean).
pub struct JudgeScores<'a> {
    pub scores: Vec<f64>,
    pub corpus: Option<Corpus<'a>>,
}

/// The corpus score of summed statistics, `None` when it has none.
pub type CorpusScore<'a> = Box<dyn Fn(&[f64]) -> Option<f64> + Send + Sync + 'a>;

/// Per-output sufficient statistics and the scorer of their sum (corpus BLEU, chrF).
pub struct Corpus<'a> {
    pub stats: Vec<Vec<f64>>,
    pub score: CorpusScore<'a>,
}

/// The index structure statistics work from: the outputs (and pairs) of each item, and the
/// items on which every system has a rating of a dimension (system level needs them).
pub struct Layout {
    pub by_segment: Vec<Vec<usize>>,
    pub pairs_by_segment: Vec<Vec<usize>>,
    pub systems: Vec<String>,
    pub system_of: Vec<usize>,
    /// Per dimension, per segment: whether every system rated on the dimension is rated there.
    pub complete: Vec<Vec<bool>>,
    /// Per dimension, per system: whether people rated any of its outputs on it (a human
    /// reference added as a system may have no rating: it is shown, never correlated).
    pub rated: Vec<Vec<bool>>,
}

impl Layout {
    pub fn of(r: &Ratings) -> Layout {
        let mut by_segment = vec![Vec::new(); r.segments.len()];
        let mut systems: Vec<String> = Vec::new();
        let mut system_of = Vec::with_capacity(r.outputs.len());
        for (i, o) in r.outputs.iter().enumerate() {
            by_segment[o.segment].push(i);
            let s = match systems.iter().position(|s| s == &o.system) {
                Some(s) => s,
                None => {
                    systems.push(o.system.clone());
                    systems.len() - 1
                }
            };
            system_of.push(s);
        }
        let mut pairs_by_segment = vec![Vec::new(); r.segments.len()];
        for (k, &(b, _)) in r.pairs.iter().enumerate() {
            pairs_by_segment[r.outputs[b].segment].push(k);
        }
        let rated: Vec<Vec<bool>> = (0..r.dimensions.len())
            .map(|d| {
                let mut any = vec![false; systems.len()];
                for (o, out) in r.outputs.iter().enumerate() {
                    any[system_of[o]] |= !out.human[d].is_nan();
                }
                any
            })
            .collect();
        let complete = (0..r.dimensions.len())
            .map(|d| {
                let want = rated[d].iter().filter(|&&x| x).count();
                by_segment
                    .iter()
                    .map(|outs| {
                        let have =
                            outs.iter().filter(|&&o| rated[d][system_of[o]] && !r.outputs[o].human[d].is_nan()).count();
                        have == want
                    })
                    .collect()
            })
            .collect();
        Layout { by_segment, pairs_by_segment, systems, system_of, complete, rated }
    }

    /// How many items system-level statistics of dimension `d` use.
    pub fn complete_items(&self, d: usize) -> usize {
        self.complete.get(d).map_or(0, |c| c.iter().filter(|&&x| x).count())
    }
}

/// The value of `metric` for dimension `d` (ignored by `darr_tau_like`) over the items `sample`
/// (indices into the segments, repeats allowed), and how many units it rests on.
pub fn statistic(
    metric: Metric,
    r: &Ratings,
    layout: &Layout,
    d: usize,
    judge: &JudgeScores,
    sample: &[usize],
) -> (Option<f64>, usize) {
    let rated = |o: usize| !r.outputs[o].human[d].is_nan() && !judge.scores[o].is_nan();
    match metric {
        Metric::DarrTauLike => {
            let pairs: Vec<(f64, f64)> = sample
                .iter()
                .flat_map(|&s| &layout.pairs_by_segment[s])
                .map(|&k| (judge.scores[r.pairs[k].0], judge.scores[r.pairs[k].1]))
                .collect();
            (DarrCounts::of(pairs.iter().copied()).tau_like(), pairs.len())
        }
        Metric::SegKendall | Metric::SegSpearman | Metric::SegPearson => {
            let (mut h, mut m) = (Vec::new(), Vec::new());
            for &s in sample {
                for &o in layout.by_segment[s].iter().filter(|&&o| rated(o)) {
                    h.push(r.outputs[o].human[d]);
                    m.push(judge.scores[o]);
                }
            }
            (correlate(metric, &h, &m), h.len())
        }
        Metric::SegAccEq => {
            let groups: Vec<(Vec<f64>, Vec<f64>)> = sample
                .iter()
                .map(|&s| {
                    let outs: Vec<usize> = layout.by_segment[s].iter().copied().filter(|&o| rated(o)).collect();
                    (
                        outs.iter().map(|&o| r.outputs[o].human[d]).collect(),
                        outs.iter().map(|&o| judge.scores[o]).collect(),
                    )
                })
                .collect();
            (acc_eq(&groups).map(|(acc, _)| acc), groups.iter().map(|g| g.0.len()).sum())
        }
        Metric::ItemKendall | Metric::ItemSpearman | Metric::ItemPearson => {
            let values: Vec<f64> = sample
                .iter()
                .filter_map(|&s| {
                    let outs: Vec<usize> = layout.by_segment[s].iter().copied().filter(|&o| rated(o)).collect();
                    let h: Vec<f64> = outs.iter().map(|&o| r.outputs[o].human[d]).collect();
                    let m: Vec<f64> = outs.iter().map(|&o| judge.scores[o]).collect();
                    correlate(metric, &h, &m)
                })
                .collect();
            // As numpy's nanmean: items where the statistic is undefined are left out.
            let n = values.len();
            ((n > 0).then(|| values.iter().fold(0.0, |a, v| a + v) / n as f64), n)
        }
        Metric::SysKendall | Metric::SysSpearman | Metric::SysPearson | Metric::SysAccuracy => {
            let (h, m) = system_scores(r, layout, d, judge, sample);
            // Systems people never rated on this dimension (unrated human references) are shown
            // in the report, not correlated.
            let keep: Vec<usize> = (0..h.len()).filter(|&k| layout.rated[d][k]).collect();
            let (h, m): (Vec<f64>, Vec<f64>) = keep.iter().map(|&k| (h[k], m[k])).unzip();
            if h.iter().chain(&m).any(|v| v.is_nan()) {
                return (None, h.len());
            }
            let v = if metric == Metric::SysAccuracy { pairwise_accuracy(&h, &m) } else { correlate(metric, &h, &m) };
            (v, h.len())
        }
        _ => (None, 0),
    }
}

/// Per system: the mean human score and the judge's system score (corpus score of the summed
/// statistics, else the mean) over the sampled items on which every system is rated.
pub fn system_scores(
    r: &Ratings,
    layout: &Layout,
    d: usize,
    judge: &JudgeScores,
    sample: &[usize],
) -> (Vec<f64>, Vec<f64>) {
    let k = layout.systems.len();
    let (mut h_sum, mut m_sum, mut n) = (vec![0.0; k], vec![0.0; k], vec![0usize; k]);
    let width = judge.corpus.as_ref().and_then(|c| c.stats.first()).map_or(0, Vec::len);
    let mut summed = vec![vec![0.0; width]; k];
    for &s in sample.iter().filter(|&&s| layout.complete.get(d).is_some_and(|c| c[s])) {
        for &o in &layout.by_segment[s] {
            let sys = layout.system_of[o];
            h_sum[sys] += r.outputs[o].human[d];
            m_sum[sys] += judge.scores[o];
            n[sys] += 1;
            if let Some(c) = &judge.corpus {
                for (a, b) in summed[sys].iter_mut().zip(&c.stats[o]) {
                    *a += b;
                }
            }
        }
    }
    let h = (0..k).map(|s| if n[s] > 0 { h_sum[s] / n[s] as f64 } else { f64::NAN }).collect();
    let m = (0..k)
        .map(|s| match &judge.corpus {
            _ if n[s] == 0 => f64::NAN,
            Some(c) => (c.score)(&summed[s]).unwrap_or(f64::NAN),
            None => m_sum[s] / n[s] as f64,
        })
        .collect();
    (h, m)
}

fn correlate(metric: Metric, h: &[f64], m: &[f64]) -> Option<f64> {
    match metric {
        Metric::SegKendall | Metric::ItemKendall | Metric::SysKendall => kendall_tau_b(m, h),
        Metric::SegSpearman | Metric::ItemSpearman | Metric::SysSpearman => spearman(m, h),
        _ => pearson(m, h),
    }
}

/// `resamples` bootstrap samples of the items, drawn from `rng` (every judge of a task sees the
/// same samples).
pub fn samples(items: usize, resamples: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    (0..resamples).map(|_| (0..items).map(|_| stats::below(rng, items)).collect()).collect()
}

/// The statistic's 95% percentile interval over the samples (those where it is defined); `None`
/// when fewer than 95% of them define it.
pub fn interval(
    metric: Metric,
    r: &Ratings,
    layout: &Layout,
    d: usize,
    judge: &JudgeScores,
    samples: &[Vec<usize>],
) -> Option<(f64, f64)> {
    let values: Vec<f64> = if metric == Metric::SegAccEq {
        acc_eq_resampled(r, layout, d, judge, samples)
    } else if matches!(metric, Metric::ItemKendall | Metric::ItemSpearman | Metric::ItemPearson) {
        // An item's statistic does not depend on the sample: compute each once, then each
        // sample's mean of them (summed in sample order, as `statistic` does).
        let per_item: Vec<Option<f64>> =
            (0..layout.by_segment.len()).map(|s| statistic(metric, r, layout, d, judge, &[s]).0).collect();
        samples
            .par_iter()
            .filter_map(|sample| {
                let (mut sum, mut n) = (0.0, 0usize);
                for v in sample.iter().filter_map(|&s| per_item[s]) {
                    sum += v;
                    n += 1;
                }
                (n > 0).then(|| sum / n as f64)
            })
            .collect()
    } else {
        samples.par_iter().filter_map(|s| statistic(metric, r, layout, d, judge, s).0).collect()
    };
    if values.len() * 20 < samples.len() * 19 {
        return None;
    }
    stats::percentile_interval(&values)
}

/// acc-eq of every sample at the cost of one sort: a sample is a weighting of the items (how
/// often each was drawn), so the pairs sorted by the judge's difference once serve them all.
/// Equal to [`statistic`] per sample.
fn acc_eq_resampled(r: &Ratings, layout: &Layout, d: usize, judge: &JudgeScores, samples: &[Vec<usize>]) -> Vec<f64> {
    let groups: Vec<(Vec<f64>, Vec<f64>)> = layout
        .by_segment
        .iter()
        .map(|outs| {
            let rated = outs.iter().filter(|&&o| !r.outputs[o].human[d].is_nan() && !judge.scores[o].is_nan());
            rated.map(|&o| (r.outputs[o].human[d], judge.scores[o])).unzip()
        })
        .collect();
    let pairs = AccEqPairs::new(groups.iter().map(|(h, m)| (h.as_slice(), m.as_slice())));
    samples
        .par_iter()
        .filter_map(|sample| {
            let mut w = vec![0i64; layout.by_segment.len()];
            for &s in sample {
                w[s] += 1;
            }
            pairs.accuracy(|g| w[g]).map(|(acc, _)| acc)
        })
        .collect()
}

/// PERM-BOTH (Deutsch, Dror and Roth 2021, as mt-metrics-eval's permutation test): is judge `a`'s
/// agreement above `b`'s beyond chance? Both judges' scores are standardised (their scales
/// differ), then each output's two scores are swapped with probability ½; the p-value is the
/// share of permutations whose difference reaches the observed one (one-sided, with the observed
/// permutation counted: (1 + k) / (1 + trials)).
#[allow(clippy::too_many_arguments)]
pub fn perm_both(
    metric: Metric,
    r: &Ratings,
    layout: &Layout,
    d: usize,
    a: &JudgeScores,
    b: &JudgeScores,
    trials: usize,
    rng: &mut ChaCha8Rng,
) -> Option<f64> {
    let all: Vec<usize> = (0..r.segments.len()).collect();
    let (za, zb) = (standardised(&a.scores), standardised(&b.scores));
    // Observed and permuted differences alike come from the standardised scores (a system's
    // score is then the mean of its outputs', also for corpus metrics).
    let of = |v: &[f64]| statistic(metric, r, layout, d, &JudgeScores { scores: v.to_vec(), corpus: None }, &all).0;
    let observed = of(&za)? - of(&zb)?;
    let swaps: Vec<Vec<bool>> =
        (0..trials).map(|_| (0..za.len()).map(|_| stats::below(rng, 2) == 1).collect()).collect();
    let reached = swaps
        .par_iter()
        .filter(|swap| {
            let pick = |first: &[f64], second: &[f64]| -> Vec<f64> {
                swap.iter().enumerate().map(|(o, &s)| if s { second[o] } else { first[o] }).collect()
            };
            let x = JudgeScores { scores: pick(&za, &zb), corpus: None };
            let y = JudgeScores { scores: pick(&zb, &za), corpus: None };
            match (statistic(metric, r, layout, d, &x, &all).0, statistic(metric, r, layout, d, &y, &all).0) {
                (Some(p), Some(q)) => p - q >= observed,
                _ => false,
            }
        })
        .count();
    Some((1 + reached) as f64 / (1 + trials) as f64)
}

/// z-scores (NaN kept); a constant judge stays constant.
fn standardised(v: &[f64]) -> Vec<f64> {
    let defined: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = defined.len().max(1) as f64;
    let mean = defined.iter().sum::<f64>() / n;
    let sd = (defined.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    v.iter().map(|x| if sd > 0.0 { (x - mean) / sd } else { x - mean }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::ratings::{Output, Segment};

    /// Six items × four systems with seeded scores on a coarse grid (ties included).
    fn ratings() -> (Ratings, JudgeScores<'static>) {
        let mut rng = stats::stream(3, "agreement-test");
        let mut r = Ratings { dimensions: vec!["q".into()], ..Ratings::default() };
        let mut scores = Vec::new();
        for s in 0..6 {
            r.segments.push(Segment {
                id: s.to_string(),
                source: None,
                references: vec!["r".into()],
                reference_names: Vec::new(),
                reference_human: Vec::new(),
            });
            for sys in 0..4 {
                let human = stats::below(&mut rng, 5) as f64;
                r.outputs.push(Output {
                    segment: s,
                    system: format!("s{sys}"),
                    text: String::new(),
                    human: vec![human],
                    reference: None,
                });
                scores.push(stats::below(&mut rng, 7) as f64 / 7.0);
            }
        }
        (r, JudgeScores { scores, corpus: None })
    }

    #[test]
    fn shortcut_intervals_equal_the_statistic_of_every_sample() {
        let (r, judge) = ratings();
        let layout = Layout::of(&r);
        let samples = samples(r.segments.len(), 200, &mut stats::stream(9, "samples"));
        for metric in [Metric::ItemKendall, Metric::ItemSpearman, Metric::SegAccEq] {
            let slow: Vec<f64> =
                samples.iter().filter_map(|s| statistic(metric, &r, &layout, 0, &judge, s).0).collect();
            let fast = interval(metric, &r, &layout, 0, &judge, &samples);
            assert_eq!(fast, stats::percentile_interval(&slow), "{metric}");
        }
    }

    #[test]
    fn perm_both_separates_a_judge_from_noise_and_not_from_itself() {
        let (r, _) = ratings();
        let layout = Layout::of(&r);
        let people = JudgeScores { scores: r.outputs.iter().map(|o| o.human[0]).collect(), corpus: None };
        let noise =
            JudgeScores { scores: (0..r.outputs.len()).map(|i| ((i * 7919) % 13) as f64).collect(), corpus: None };
        let mut rng = stats::stream(1, "perm");
        let p = perm_both(Metric::SegKendall, &r, &layout, 0, &people, &noise, 500, &mut rng).unwrap();
        assert!(p < 0.01, "{p}");
        let same = perm_both(Metric::SegKendall, &r, &layout, 0, &noise, &noise, 100, &mut rng).unwrap();
        assert_eq!(same, 1.0);
    }
}
