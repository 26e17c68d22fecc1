//! How far a model's next-token distributions are from a base model's at the same positions:
//! what `llama-perplexity --kl-divergence` measures when a quantized model is compared with the
//! model it was quantized from. Per position: the KL divergence KL(P_base ‖ P_model), whether
//! the two most likely tokens agree, both models' negative log-likelihoods of the actual next
//! token, and the change of its probability (Δp = p_model − p_base). Over a text: the mean and
//! percentiles of the divergence, the rate of agreeing top tokens, the ratio of the perplexities
//! and the root mean square of Δp.
//!
//! Every row is compared whole, in f64. llama.cpp stores the base's log-probabilities in 16 bits
//! over the top 16 nats and ignores base probabilities below e⁻¹⁶, so its figures differ from
//! these by that rounding (measured in docs/models.md).

use super::Metric;

/// One position compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenComparison {
    pub kld: f64,
    pub same_top: bool,
    pub nll: f64,
    pub nll_base: f64,
    pub delta_p: f64,
}

/// A row's maximum, `ln Σ exp(x − max)` and first index of the maximum.
fn row_stats(row: &[f32]) -> (f64, f64, usize) {
    let (mut top, mut max) = (0, f32::NEG_INFINITY);
    for (i, &v) in row.iter().enumerate() {
        if v > max || i == 0 {
            (top, max) = (i, v);
        }
    }
    let max = f64::from(max);
    let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
    (max, sum.ln(), top)
}

/// Compares the logits of one position (`base` and `model`, one vocabulary) where `target`
/// came next. Ties for the top token go to the first, as in llama.cpp.
pub fn compare(base: &[f32], model: &[f32], target: usize) -> TokenComparison {
    debug_assert_eq!(base.len(), model.len());
    let (mb, zb, top_b) = row_stats(base);
    let (mq, zq, top_q) = row_stats(model);
    let mut kld = 0.0;
    for (&b, &q) in base.iter().zip(model) {
        let lb = f64::from(b) - mb - zb;
        let p = lb.exp();
        // A token the base gives no probability adds nothing, whatever the model gives it.
        if p > 0.0 {
            kld += p * (lb - (f64::from(q) - mq - zq));
        }
    }
    let nll = mq + zq - f64::from(model[target]);
    let nll_base = mb + zb - f64::from(base[target]);
    TokenComparison { kld, same_top: top_b == top_q, nll, nll_base, delta_p: (-nll).exp() - (-nll_base).exp() }
}

/// The sums of a stretch of text's comparisons, and each position's divergence (for the
/// percentiles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Divergence {
    pub tokens: f64,
    pub kld: f64,
    pub same_top: f64,
    pub nll: f64,
    pub nll_base: f64,
    pub delta_p: f64,
    pub delta_p2: f64,
    pub values: Vec<f64>,
}

impl Divergence {
    pub fn add(&mut self, c: &TokenComparison) {
        self.tokens += 1.0;
        self.kld += c.kld;
        self.same_top += f64::from(u8::from(c.same_top));
        self.nll += c.nll;
        self.nll_base += c.nll_base;
        self.delta_p += c.delta_p;
        self.delta_p2 += c.delta_p * c.delta_p;
        self.values.push(c.kld);
    }

    pub fn merge(&mut self, other: &Divergence) {
        self.tokens += other.tokens;
        self.kld += other.kld;
        self.same_top += other.same_top;
        self.nll += other.nll;
        self.nll_base += other.nll_base;
        self.delta_p += other.delta_p;
        self.delta_p2 += other.delta_p2;
        self.values.extend_from_slice(&other.values);
    }

    /// The value of each of `metrics` (the metrics of [`Metric::DIVERGENCE`]); the values are
    /// sorted once for all percentiles. NaN when nothing was compared.
    pub fn metrics(&self, metrics: &[Metric]) -> Vec<f64> {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        let n = self.tokens;
        metrics
            .iter()
            .map(|&m| match m {
                Metric::KlDivergence => self.kld / n,
                Metric::KlDivergenceMedian => percentile(&sorted, 0.5),
                Metric::KlDivergenceP90 => percentile(&sorted, 0.9),
                Metric::KlDivergenceP99 => percentile(&sorted, 0.99),
                Metric::KlDivergenceP999 => percentile(&sorted, 0.999),
                Metric::KlDivergenceMax => sorted.last().copied().unwrap_or(f64::NAN),
                Metric::Top1Agreement => self.same_top / n,
                Metric::PerplexityRatio => ((self.nll - self.nll_base) / n).exp(),
                Metric::DeltaPRms => (self.delta_p2 / n).sqrt(),
                Metric::TokenPerplexity => (self.nll / n).exp(),
                _ => f64::NAN,
            })
            .collect()
    }
}

/// llama-perplexity's percentile: linear between the two sorted values around
/// `fraction × (n − 1)`; its median is the same rule at one half.
pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let Some(&last) = sorted.last() else { return f64::NAN };
    if fraction >= 1.0 {
        return last;
    }
    let p = fraction * (sorted.len() - 1) as f64;
    let i = p as usize;
    let f = p - i as f64;
    (1.0 - f) * sorted[i] + f * sorted[(i + 1).min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_rows_diverge_by_nothing_and_agree() {
        let row = [1.0f32, 3.0, -2.0, 0.5];
        let c = compare(&row, &row, 2);
        assert!(c.kld.abs() < 1e-15);
        assert!(c.same_top);
        assert_eq!(c.nll, c.nll_base);
        assert_eq!(c.delta_p, 0.0);
    }

    #[test]
    fn divergence_is_the_textbook_sum() {
        let (base, model) = ([0.0f32, 1.0, 2.0], [2.0f32, 1.0, 0.0]);
        let softmax = |r: &[f32]| {
            let z: f64 = r.iter().map(|&v| f64::from(v).exp()).sum();
            r.iter().map(|&v| f64::from(v).exp() / z).collect::<Vec<_>>()
        };
        let (p, q) = (softmax(&base), softmax(&model));
        let expected: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
        let c = compare(&base, &model, 0);
        assert!((c.kld - expected).abs() < 1e-12, "{} vs {expected}", c.kld);
        assert!(!c.same_top);
        assert!((c.delta_p - (q[0] - p[0])).abs() < 1e-12);
        // Shifting a row's logits changes nothing.
        let shifted: Vec<f32> = model.iter().map(|v| v + 100.0).collect();
        assert!((compare(&base, &shifted, 0).kld - expected).abs() < 1e-9);
    }

    #[test]
    fn percentiles_interpolate_as_llama_perplexity() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&sorted, 0.5), 2.5);
        assert_eq!(percentile(&sorted[..3], 0.5), 2.0);
        assert!((percentile(&sorted, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&sorted, 1.0), 4.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
