//! BLEU exactly as sacrebleu 2.x computes it.
//!
//! Per segment: the hypothesis is lower-cased (optionally), right-stripped and tokenized; its
//! n-gram counts are clipped by the maximum count over the references, and the reference length
//! is the one closest to the hypothesis length (ties to the shorter). Corpus statistics are sums
//! of segment statistics; the score applies the brevity penalty and the chosen smoothing to the
//! geometric mean of the precisions. Segments are processed in parallel with rayon.

pub mod moses;
#[rustfmt::skip]
mod moses_tables;
pub mod tokenize;

use rustc_hash::FxHashMap;

pub use tokenize::Tokenizer;
use tokenize::py_split;

/// The sacrebleu version whose behaviour (and signature format) lmgauge reproduces.
pub const SACREBLEU_VERSION: &str = "2.6.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Smooth {
    #[default]
    #[serde(rename = "exp")]
    Exp,
    #[serde(rename = "floor")]
    Floor,
    #[serde(rename = "add-k")]
    AddK,
    #[serde(rename = "none")]
    None,
}

impl Smooth {
    pub fn name(self) -> &'static str {
        match self {
            Smooth::Exp => "exp",
            Smooth::Floor => "floor",
            Smooth::AddK => "add-k",
            Smooth::None => "none",
        }
    }

    pub fn from_name(s: &str) -> Option<Smooth> {
        [Smooth::Exp, Smooth::Floor, Smooth::AddK, Smooth::None].into_iter().find(|m| m.name() == s)
    }

    /// sacrebleu's `SMOOTH_DEFAULTS`.
    pub fn default_value(self) -> Option<f64> {
        match self {
            Smooth::Floor => Some(0.1),
            Smooth::AddK => Some(1.0),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BleuConfig {
    pub tokenizer: Tokenizer,
    pub lowercase: bool,
    pub smooth: Smooth,
    pub smooth_value: Option<f64>,
    pub max_order: usize,
    /// Drop n-gram orders with no hypothesis n-grams from the mean (sentence-level default).
    pub effective_order: bool,
}

impl Default for BleuConfig {
    fn default() -> Self {
        BleuConfig {
            tokenizer: Tokenizer::Mteval13a,
            lowercase: false,
            smooth: Smooth::Exp,
            smooth_value: None,
            max_order: 4,
            effective_order: false,
        }
    }
}

/// Sufficient statistics of one segment (or, summed, of a corpus).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BleuStats {
    pub sys_len: u64,
    pub ref_len: u64,
    pub correct: Vec<u64>,
    pub total: Vec<u64>,
}

impl BleuStats {
    pub fn zero(order: usize) -> Self {
        BleuStats { sys_len: 0, ref_len: 0, correct: vec![0; order], total: vec![0; order] }
    }

    pub fn add(&mut self, other: &BleuStats) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for (a, b) in self.correct.iter_mut().zip(&other.correct) {
            *a += b;
        }
        for (a, b) in self.total.iter_mut().zip(&other.total) {
            *a += b;
        }
    }
}

/// A BLEU score with everything sacrebleu reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BleuScore {
    pub score: f64,
    /// Matches per order (after add-k smoothing when used, as sacrebleu reports them).
    pub counts: Vec<f64>,
    pub totals: Vec<f64>,
    pub precisions: Vec<f64>,
    pub bp: f64,
    pub sys_len: u64,
    pub ref_len: u64,
}

impl BleuConfig {
    fn preprocess(&self, s: &str) -> String {
        let s = if self.lowercase { s.to_lowercase() } else { s.to_owned() };
        self.tokenizer.tokenize(s.trim_end_matches(tokenize::is_py_space))
    }

    /// sacrebleu's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    pub fn signature(&self, nrefs: usize) -> String {
        let smooth = match (self.smooth.default_value(), self.smooth_value) {
            (Some(d), v) => format!("{}[{:.2}]", self.smooth.name(), v.unwrap_or(d)),
            (None, _) => self.smooth.name().to_owned(),
        };
        format!(
            "nrefs:{nrefs}|case:{}|eff:{}|tok:{}|smooth:{smooth}|version:{SACREBLEU_VERSION}",
            if self.lowercase { "lc" } else { "mixed" },
            if self.effective_order { "yes" } else { "no" },
            self.tokenizer.name()
        )
    }

    /// Tokenizes the references of one segment and keeps what scoring needs: their lengths and,
    /// per n-gram, the largest count in any reference (tokens interned to ids for the segment).
    pub fn prepare(&self, refs: &[&str]) -> PreparedRefs {
        // Maps are sized up front from the token counts: growing them was an eighth of a whole
        // `lmgauge bleu` call.
        let tokenized: Vec<String> = refs.iter().map(|r| self.preprocess(r)).collect();
        let words: usize = tokenized.iter().map(|t| py_split(t).count()).sum();
        let mut vocab: FxHashMap<String, u32> = FxHashMap::with_capacity_and_hasher(words, Default::default());
        let mut max_counts: FxHashMap<u128, u32> = FxHashMap::default();
        let mut lens = Vec::with_capacity(refs.len());
        for tok in &tokenized {
            let ids: Vec<Option<u32>> = py_split(tok)
                .map(|t| {
                    let next = vocab.len() as u32;
                    Some(*vocab.entry(t.to_owned()).or_insert(next))
                })
                .collect();
            lens.push(ids.len() as u64);
            let counts = ngram_counts(&ids, self.max_order);
            if max_counts.is_empty() {
                max_counts = counts;
                continue;
            }
            for (k, c) in counts {
                let e = max_counts.entry(k).or_insert(0);
                *e = (*e).max(c);
            }
        }
        PreparedRefs { vocab, max_counts, lens }
    }

    /// Statistics of one hypothesis against prepared references.
    pub fn stats_prepared(&self, hyp: &str, refs: &PreparedRefs) -> BleuStats {
        let order = self.max_order;
        debug_assert!(order <= 4, "n-gram keys pack at most four 32-bit ids");
        let hyp_tok = self.preprocess(hyp);
        // Words no reference has can never match: they only count towards the totals.
        let ids: Vec<Option<u32>> = py_split(&hyp_tok).map(|t| refs.vocab.get(t).copied()).collect();
        let mut stats = BleuStats::zero(order);
        stats.sys_len = ids.len() as u64;
        stats.ref_len = closest_ref_len(stats.sys_len, &refs.lens);
        for n in 1..=order.min(ids.len()) {
            stats.total[n - 1] = (ids.len() - n + 1) as u64;
        }
        let counts = ngram_counts(&ids, order);
        for (k, c) in counts {
            if let Some(&r) = refs.max_counts.get(&k) {
                let n = ngram_len(k);
                stats.correct[n - 1] += c.min(r) as u64;
            }
        }
        stats
    }

    /// Statistics of one hypothesis against its references.
    pub fn segment_stats(&self, hyp: &str, refs: &[&str]) -> BleuStats {
        self.stats_prepared(hyp, &self.prepare(refs))
    }

    /// Statistics of every segment of each system (`result[system][segment]`); `refs[k][i]` is
    /// reference stream `k` for segment `i`.
    pub fn systems_stats(&self, systems: &[&[String]], refs: &[Vec<String>]) -> Vec<Vec<BleuStats>> {
        super::segment_stats_of_systems(systems, refs, |r| self.prepare(r), |h, p| self.stats_prepared(h, p))
    }

    /// Statistics of every segment; `refs[k][i]` is reference stream `k` for segment `i`.
    pub fn corpus_stats(&self, hyps: &[String], refs: &[Vec<String>]) -> Vec<BleuStats> {
        self.systems_stats(&[hyps], refs).pop().unwrap_or_default()
    }

    /// The score of summed statistics (sacrebleu's `compute_bleu`).
    pub fn score(&self, stats: &BleuStats) -> BleuScore {
        self.score_as(stats, true)
    }

    /// The score as sacrebleu 1.x computed it: a hypothesis without a single matching unigram
    /// still gets the smoothed precisions' score (2.x returns 0 for it). The WMT19 metrics
    /// baseline that COMET and BARTScore published was computed this way.
    pub fn score_sacrebleu1(&self, stats: &BleuStats) -> BleuScore {
        self.score_as(stats, false)
    }

    fn score_as(&self, stats: &BleuStats, zero_without_matches: bool) -> BleuScore {
        let order = self.max_order;
        let mut correct: Vec<f64> = stats.correct.iter().map(|&c| c as f64).collect();
        let mut total: Vec<f64> = stats.total.iter().map(|&c| c as f64).collect();
        let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
        let bp = if sys_len < ref_len {
            if sys_len > 0 { (1.0 - ref_len as f64 / sys_len as f64).exp() } else { 0.0 }
        } else {
            1.0
        };
        let mut precisions = vec![0.0; order];
        if zero_without_matches && !correct.iter().any(|&c| c != 0.0) {
            return BleuScore { score: 0.0, counts: correct, totals: total, precisions, bp, sys_len, ref_len };
        }
        let smooth_value = self.smooth_value.or(self.smooth.default_value()).unwrap_or(0.0);
        let mut smooth_mteval = 1.0f64;
        let mut eff_order = order;
        for n in 1..=order {
            if self.smooth == Smooth::AddK && n > 1 {
                correct[n - 1] += smooth_value;
                total[n - 1] += smooth_value;
            }
            if total[n - 1] == 0.0 {
                break;
            }
            if self.effective_order {
                eff_order = n;
            }
            if correct[n - 1] == 0.0 {
                match self.smooth {
                    Smooth::Exp => {
                        smooth_mteval *= 2.0;
                        precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                    }
                    Smooth::Floor => precisions[n - 1] = 100.0 * smooth_value / total[n - 1],
                    _ => {}
                }
            } else {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }
        // Python's sum() adds left to right; so do we.
        let log_sum = precisions[..eff_order].iter().fold(0.0f64, |acc, &p| acc + my_log(p));
        let score = bp * (log_sum / eff_order as f64).exp();
        BleuScore { score, counts: correct, totals: total, precisions, bp, sys_len, ref_len }
    }

    /// Corpus BLEU of hypotheses against reference streams.
    pub fn corpus_score(&self, hyps: &[String], refs: &[Vec<String>]) -> BleuScore {
        let mut sum = BleuStats::zero(self.max_order);
        for s in self.corpus_stats(hyps, refs) {
            sum.add(&s);
        }
        self.score(&sum)
    }
}

/// sacrebleu's `my_log`: log with a large negative value for zero.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

fn closest_ref_len(hyp_len: u64, ref_lens: &[u64]) -> u64 {
    let mut best: Option<(u64, u64)> = None; // (diff, len)
    for &r in ref_lens {
        let diff = hyp_len.abs_diff(r);
        best = match best {
            None => Some((diff, r)),
            Some((d, _)) if diff < d => Some((diff, r)),
            Some((d, l)) if diff == d && r < l => Some((d, r)),
            keep => keep,
        };
    }
    best.map(|(_, l)| l).unwrap_or(0)
}

/// The references of one segment, ready to score any number of hypotheses.
#[derive(Debug, Clone, Default)]
pub struct PreparedRefs {
    vocab: FxHashMap<String, u32>,
    max_counts: FxHashMap<u128, u32>,
    lens: Vec<u64>,
}

/// Counts of the n-grams of orders 1 to `order` in a sequence of ids, skipping those that
/// contain a `None` (a word no reference has, which can never match).
fn ngram_counts(ids: &[Option<u32>], order: usize) -> FxHashMap<u128, u32> {
    let len = ids.len();
    let mut counts: FxHashMap<u128, u32> = FxHashMap::with_capacity_and_hasher(len * order, Default::default());
    let mut window: Vec<u32> = Vec::with_capacity(order);
    for n in 1..=order.min(len) {
        'windows: for w in ids.windows(n) {
            window.clear();
            for id in w {
                match id {
                    Some(i) => window.push(*i),
                    None => continue 'windows,
                }
            }
            *counts.entry(pack(&window)).or_insert(0) += 1;
        }
    }
    counts
}

/// An n-gram of up to four ids as one key: each id + 1 in 32 bits, so the length is implied.
fn pack(ids: &[u32]) -> u128 {
    ids.iter().fold(0u128, |acc, &i| (acc << 32) | (i as u128 + 1))
}

fn ngram_len(key: u128) -> usize {
    (128 - key.leading_zeros() as usize).div_ceil(32)
}

/// BLEU statistics as rows for the resampling tests.
pub fn item_stats<'a>(cfg: &'a BleuConfig, stats: &[BleuStats]) -> crate::metrics::stats::ItemStats<'a> {
    let order = cfg.max_order;
    let rows = stats
        .iter()
        .map(|s| {
            let mut r = vec![s.sys_len as f64, s.ref_len as f64];
            r.extend(s.correct.iter().map(|&c| c as f64));
            r.extend(s.total.iter().map(|&c| c as f64));
            r
        })
        .collect();
    crate::metrics::stats::ItemStats {
        rows,
        score: Box::new(move |v: &[f64]| cfg.score(&stats_from_row(v, order)).score),
    }
}

pub fn stats_from_row(v: &[f64], order: usize) -> BleuStats {
    BleuStats {
        sys_len: v[0] as u64,
        ref_len: v[1] as u64,
        correct: v[2..2 + order].iter().map(|&x| x as u64).collect(),
        total: v[2 + order..2 + 2 * order].iter().map(|&x| x as u64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // sacrebleu's test/test_bleu.py vectors.
    #[test]
    fn sacrebleu_test_vectors() {
        let hyps = lines(&["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]);
        let refs = vec![
            lines(&["The dog bit the man.", "It was not unexpected.", "The man bit him first."]),
            lines(&["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]),
        ];
        let mut cfg = BleuConfig::default();
        assert!((cfg.corpus_score(&hyps, &refs).score - 48.530827).abs() < 1e-6);
        cfg.tokenizer = Tokenizer::None;
        assert!((cfg.corpus_score(&hyps, &refs).score - 49.1919566).abs() < 1e-6);
        cfg.tokenizer = Tokenizer::Intl;
        assert!((cfg.corpus_score(&hyps, &refs).score - 43.91623493).abs() < 1e-6);
        let sent = BleuConfig { effective_order: true, ..BleuConfig::default() };
        let s = sent.score(&sent.segment_stats("test", &["a test"]));
        assert!((s.score - 36.78794).abs() < 1e-5, "{}", s.score);
    }

    #[test]
    fn identical_text_scores_100() {
        let hyps = lines(&["a b c d e", "x y z w v u"]);
        let s = BleuConfig::default().corpus_score(&hyps, std::slice::from_ref(&hyps));
        assert!((s.score - 100.0).abs() < 1e-9);
    }

    #[test]
    fn signatures() {
        let mut c = BleuConfig::default();
        assert_eq!(c.signature(1), "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
        c.smooth = Smooth::Floor;
        c.lowercase = true;
        assert_eq!(c.signature(2), "nrefs:2|case:lc|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0");
    }
}
