//! Interpolated modified Kneser-Ney estimation with lmplz's exact conventions.
//!
//! The steps mirror lmplz's pipeline (`adjust_counts.cc`, `initial_probabilities.cc`,
//! `interpolate.cc`): adjusted counts (raw for the top order and for n-grams that start with
//! `<s>`, otherwise the number of distinct left extensions), per-order discounts from the
//! count-of-counts with the same range checks and fallback, uninterpolated probabilities and
//! interpolation weights per context, then interpolation from unigrams (mixed with a uniform
//! distribution over the vocabulary without `<s>`) upwards. Arithmetic is done in `f32` where
//! lmplz uses `float`, so the ARPA numbers agree to the last printed digits.

use rayon::prelude::*;

use super::count::{Corpus, GramTable, count_padded};
use super::vocab::{BOS, EOS, UNK};
use super::{ArpaModel, NgramError, OrderTable};

/// Estimation settings; `lmgauge ngram train` and suite models map onto this.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub order: usize,
    /// `Some([d1, d2, d3plus])` replaces out-of-range discounts (lmplz `--discount_fallback`).
    pub discount_fallback: Option<[f32; 3]>,
    /// Per-order thresholds: n-grams whose raw count is ≤ the threshold are pruned (lmplz `--prune`).
    pub prune: Vec<u64>,
}

/// lmplz's default fallback discounts for adjusted counts 1, 2 and 3+.
pub const DEFAULT_FALLBACK: [f32; 3] = [0.5, 1.0, 1.5];

/// Turns up to three fallback discounts (CLI or suite) into the three lmplz uses, validated
/// like lmplz; none gives its default.
pub fn fallback_from(values: &[f32]) -> Result<[f32; 3], String> {
    if values.is_empty() {
        return Ok(DEFAULT_FALLBACK);
    }
    let mut out = [0.0f32; 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let d = values[i.min(values.len() - 1)];
        if !(0.0..=(i + 1) as f32).contains(&d) {
            return Err(format!("the fallback discount for count {} must be in [0, {}], got {d}", i + 1, i + 1));
        }
        *slot = d;
    }
    Ok(out)
}

/// Discounts D(0..=3) of one order; D(0) is always 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discount(pub [f32; 4]);

impl Discount {
    fn get(&self, count: u64) -> f32 {
        self.0[count.min(3) as usize]
    }
    fn apply(&self, count: u64) -> f32 {
        count as f32 - self.get(count)
    }
}

impl TrainOptions {
    /// Checks the options and expands pruning thresholds to one per order, as lmplz does.
    pub fn resolved_prune(&self) -> Result<Vec<u64>, NgramError> {
        if self.order == 0 {
            return Err(NgramError::Options("order must be at least 1".into()));
        }
        if self.prune.is_empty() {
            return Ok(vec![0; self.order]);
        }
        if self.prune.len() > self.order {
            return Err(NgramError::Options(format!(
                "{} pruning thresholds given but the model has order {}",
                self.prune.len(),
                self.order
            )));
        }
        if self.prune[0] != 0 {
            return Err(NgramError::Options("the unigram pruning threshold must be 0".into()));
        }
        if self.prune.windows(2).any(|w| w[0] > w[1]) {
            return Err(NgramError::Options("pruning thresholds must be non-decreasing".into()));
        }
        let mut p = self.prune.clone();
        p.resize(self.order, *self.prune.last().unwrap());
        Ok(p)
    }
}

/// Trains a model from a corpus. Returns the model and the discounts used per order.
/// One order's initial probabilities, backoff numerators and the interpolation entries
/// (context, n-gram, weight) of its n-grams.
type Initial = (Vec<f32>, Vec<f32>, Vec<(usize, usize, f32)>);

pub fn estimate(corpus: &Corpus, opts: &TrainOptions) -> Result<(ArpaModel, Vec<Discount>), NgramError> {
    let prune = opts.resolved_prune()?;
    let tables = adjusted_tables(corpus, opts.order);
    // Only orders above 1 prune (the unigram threshold is 0), on raw counts as lmplz does.
    let pruned: Vec<Vec<bool>> =
        tables.iter().enumerate().map(|(k, t)| t.raw.iter().map(|&raw| k > 0 && raw <= prune[k]).collect()).collect();
    let discounts = tables
        .iter()
        .enumerate()
        .map(|(k, t)| discount_for(k + 1, t, opts.discount_fallback))
        .collect::<Result<Vec<_>, _>>()?;

    // Uninterpolated probabilities and each entry's context weight, per order.
    let initial: Vec<Initial> = tables
        .par_iter()
        .zip(pruned.par_iter())
        .zip(discounts.par_iter())
        .map(|((t, pr), d)| initial_probabilities(t, pr, d))
        .collect();

    let vocab_size = tables[0].len() - 1; // <s> is not part of the uniform distribution
    let uniform = 1.0f32 / vocab_size as f32;
    let mut interpolated: Vec<Vec<f32>> = Vec::with_capacity(opts.order);
    for k in 0..opts.order {
        let table = &tables[k];
        let (uninterp, gamma, _) = &initial[k];
        let probs: Vec<f32> = (0..table.len())
            .into_par_iter()
            .map(|i| {
                let lower = if k == 0 {
                    uniform
                } else {
                    let suffix = &table.gram(i)[1..];
                    match tables[k - 1].find(suffix) {
                        Some(j) => interpolated[k - 1][j],
                        None => 0.0, // unreachable for adjusted tables: every suffix is present
                    }
                };
                uninterp[i] + gamma[i] * lower
            })
            .collect();
        interpolated.push(probs);
    }

    // Backoff of an n-gram = interpolation weight of the context it forms one order up.
    let mut backoffs: Vec<Vec<f32>> = tables.iter().map(|t| vec![1.0f32; t.len()]).collect();
    for k in 1..opts.order {
        for &(start, _end, gamma) in &initial[k].2 {
            let context = &tables[k].gram(start)[..k];
            if let Some(j) = tables[k - 1].find(context) {
                let last = context[k - 1];
                if last != UNK && last != EOS {
                    backoffs[k - 1][j] = gamma;
                }
            }
        }
    }

    let mut orders = Vec::with_capacity(opts.order);
    for k in 0..opts.order {
        let t = &tables[k];
        let mut out = OrderTable::new(k + 1);
        for i in 0..t.len() {
            let keep = !pruned[k][i];
            if !keep {
                continue;
            }
            out.ids.extend_from_slice(t.gram(i));
            out.log10_prob.push(interpolated[k][i].log10().min(0.0));
            if k + 1 < opts.order {
                out.log10_backoff.push(backoffs[k][i].log10());
            }
        }
        orders.push(out);
    }
    Ok((ArpaModel { words: corpus.vocab.words().to_vec(), orders }, discounts))
}

/// Builds the table of every order with adjusted counts (in `counts`) and raw counts (in `raw`).
pub fn adjusted_tables(corpus: &Corpus, order: usize) -> Vec<GramTable> {
    let vocab_size = corpus.vocab.len();
    let full = count_padded(corpus, order);
    let mut tables: Vec<GramTable> = vec![GramTable::default(); order];

    // Top order: padded n-grams with no <s> after position 0 are real, with raw counts. The others
    // (`<s> <s> w…`) each stand for the shorter n-gram that starts at their last <s>.
    let mut lower_bos: Vec<(Vec<u32>, Vec<[u64; 2]>)> = vec![(Vec::new(), Vec::new()); order];
    let mut top = GramTable { order, ..Default::default() };
    for i in 0..full.len() {
        let gram = full.gram(i);
        let c = full.counts[i];
        match gram.iter().rposition(|&w| w == BOS) {
            Some(j) if j >= 1 => {
                let (ids, w) = &mut lower_bos[order - j - 1];
                ids.extend_from_slice(&gram[j..]);
                w.push([c, c]);
            }
            _ => {
                top.ids.extend_from_slice(gram);
                top.counts.push(c);
                top.raw.push(c);
            }
        }
    }
    tables[order - 1] = top;

    for k in (0..order.saturating_sub(1)).rev() {
        let upper = &tables[k + 1];
        let (mut ids, mut weights) = std::mem::take(&mut lower_bos[k]);
        ids.reserve(upper.len() * (k + 1));
        for i in 0..upper.len() {
            ids.extend_from_slice(&upper.gram(i)[1..]);
            weights.push([1, upper.raw[i]]);
        }
        if k == 0 {
            ids.extend_from_slice(&[UNK, BOS]);
            weights.push([0, 0]);
            weights.push([0, u64::MAX]);
        }
        tables[k] = GramTable::from_weighted(k + 1, ids, weights, vocab_size);
    }
    if order == 1 {
        let (mut ids, mut weights) = (std::mem::take(&mut tables[0].ids), Vec::new());
        for i in 0..tables[0].len() {
            weights.push([tables[0].counts[i], tables[0].raw[i]]);
        }
        ids.extend_from_slice(&[UNK, BOS]);
        weights.push([0, 0]);
        weights.push([0, u64::MAX]);
        tables[0] = GramTable::from_weighted(1, ids, weights, vocab_size);
    }
    tables
}

/// Chen & Goodman's closed-form discounts (their eq. 26) with lmplz's checks.
// Index loops mirror KenLM's source (adjusted-count classes 1..=3), which this must match bit
// for bit.
#[allow(clippy::needless_range_loop)]
fn discount_for(order: usize, table: &GramTable, fallback: Option<[f32; 3]>) -> Result<Discount, NgramError> {
    let mut n = [0u64; 5];
    for &a in &table.counts {
        if a < 5 {
            n[a as usize] += 1;
        }
    }
    let computed = (|| {
        for j in 1..4 {
            if n[j] == 0 {
                return Err(format!(
                    "could not calculate Kneser-Ney discounts for {order}-grams with adjusted count {} \
                     because no {order}-grams have adjusted count {j}; is this small or artificial data?",
                    j + 1
                ));
            }
        }
        let y = n[1] as f32 / (n[1] as f32 + 2.0 * n[2] as f32);
        let mut d = [0.0f32; 4];
        for j in 1..4 {
            d[j] = j as f32 - (j + 1) as f32 * y * n[j + 1] as f32 / n[j] as f32;
            if d[j] < 0.0 || d[j] > j as f32 {
                return Err(format!(
                    "{order}-gram discount out of range for adjusted count {j}: {} \
                     (modified Kneser-Ney finds this data unusual)",
                    d[j]
                ));
            }
        }
        Ok(Discount(d))
    })();
    match (computed, fallback) {
        (Ok(d), _) => Ok(d),
        (Err(_), Some(f)) => Ok(Discount([0.0, f[0], f[1], f[2]])),
        (Err(message), None) => Err(NgramError::Discount { order, message }),
    }
}

/// Per entry: uninterpolated probability and its context's interpolation weight; plus, per
/// context group, `(first, end, gamma)`.
#[allow(clippy::needless_range_loop)]
fn initial_probabilities(t: &GramTable, pruned: &[bool], d: &Discount) -> Initial {
    let ctx_len = t.order - 1;
    let mut uninterp = vec![0.0f32; t.len()];
    let mut gammas = vec![0.0f32; t.len()];
    let mut groups = Vec::new();
    let mut start = 0;
    while start < t.len() {
        let ctx = &t.gram(start)[..ctx_len];
        let mut end = start + 1;
        while end < t.len() && &t.gram(end)[..ctx_len] == ctx {
            end += 1;
        }
        let mut denominator = 0u64;
        let mut normalizer = 0u64;
        let mut counts = [0u64; 4];
        for i in start..end {
            let a = t.counts[i];
            denominator += a;
            if pruned[i] {
                normalizer += a;
            } else if a > 0 {
                counts[a.min(3) as usize] += 1;
            }
        }
        let denominator_f = denominator as f32;
        let mut gamma = 0.0f32;
        for j in 1..=3 {
            gamma += d.0[j] * counts[j] as f32;
        }
        gamma += normalizer as f32;
        gamma /= denominator_f;
        for i in start..end {
            uninterp[i] = d.apply(t.counts[i]) / denominator_f;
            gammas[i] = gamma;
            if t.order == 1 {
                match t.gram(i)[0] {
                    UNK => uninterp[i] = 0.0,
                    BOS => {
                        uninterp[i] = 1.0;
                        gammas[i] = 0.0;
                    }
                    _ => {}
                }
            }
        }
        groups.push((start, end, gamma));
        start = end;
    }
    (uninterp, gammas, groups)
}
