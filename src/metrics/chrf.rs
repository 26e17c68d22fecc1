//! chrF and chrF++ exactly as sacrebleu 2.x computes them: character n-grams (whitespace
//! removed) of orders 1..=6, plus word n-grams of orders 1..=2 for chrF++ (punctuation split
//! off word edges), per order [hypothesis, reference, match] counts, the best reference by
//! F-score per segment, and sacrebleu's effective-order averaging (or eps smoothing).

use rustc_hash::FxHashMap;

use super::bleu::SACREBLEU_VERSION;
use super::bleu::tokenize::py_split;

#[derive(Debug, Clone, PartialEq)]
pub struct ChrfConfig {
    pub char_order: usize,
    /// 0 for chrF, 2 for chrF++.
    pub word_order: usize,
    pub beta: u32,
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams.
    pub whitespace: bool,
    /// chrF++.py / Moses epsilon smoothing instead of effective order.
    pub eps_smoothing: bool,
}

impl Default for ChrfConfig {
    fn default() -> Self {
        ChrfConfig { char_order: 6, word_order: 0, beta: 2, lowercase: false, whitespace: false, eps_smoothing: false }
    }
}

/// The most n-gram slots reserved ahead for one order of one segment; maps grow past it only as
/// distinct n-grams arrive.
const MAX_RESERVED: usize = 1 << 12;

const PUNCTS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

impl ChrfConfig {
    pub fn order(&self) -> usize {
        self.char_order + self.word_order
    }

    /// `chrF2` or `chrF2++`.
    pub fn name(&self) -> String {
        format!("chrF{}{}", self.beta, "+".repeat(self.word_order))
    }

    pub fn signature(&self, nrefs: usize) -> String {
        format!(
            "nrefs:{nrefs}|case:{}|eff:{}|nc:{}|nw:{}|space:{}|version:{SACREBLEU_VERSION}",
            if self.lowercase { "lc" } else { "mixed" },
            if self.eps_smoothing { "no" } else { "yes" },
            self.char_order,
            self.word_order,
            if self.whitespace { "yes" } else { "no" }
        )
    }

    fn ngrams(&self, sent: &str) -> Vec<Grams> {
        let sent = if self.lowercase { sent.to_lowercase() } else { sent.to_owned() };
        let chars: Vec<char> =
            if self.whitespace { sent.chars().collect() } else { py_split(&sent).flat_map(|w| w.chars()).collect() };
        let mut out = Vec::with_capacity(self.order());
        for n in 1..=self.char_order {
            if n <= 6 {
                // Up to six characters pack exactly into 128 bits (21 bits each, plus one).
                // Capacity for the distinct n-grams a segment usually has, not for every window:
                // one very long line must cost what its distinct n-grams need, not 6× its length.
                let windows = (chars.len() + 1).saturating_sub(n).min(MAX_RESERVED);
                let mut m: FxHashMap<u128, u64> = FxHashMap::with_capacity_and_hasher(windows, Default::default());
                if chars.len() >= n {
                    for w in chars.windows(n) {
                        let key = w.iter().fold(0u128, |acc, &c| (acc << 21) | (c as u128 + 1));
                        *m.entry(key).or_insert(0) += 1;
                    }
                }
                out.push(Grams::Packed(m));
            } else {
                let mut m: FxHashMap<String, u64> = FxHashMap::default();
                if chars.len() >= n {
                    for w in chars.windows(n) {
                        *m.entry(w.iter().collect()).or_insert(0) += 1;
                    }
                }
                out.push(Grams::Text(m));
            }
        }
        if self.word_order > 0 {
            let words = remove_punctuation(&sent);
            for n in 1..=self.word_order {
                let mut m: FxHashMap<String, u64> = FxHashMap::with_capacity_and_hasher(
                    (words.len() + 1).saturating_sub(n).min(MAX_RESERVED),
                    Default::default(),
                );
                if words.len() >= n {
                    for w in words.windows(n) {
                        *m.entry(w.join(" ")).or_insert(0) += 1;
                    }
                }
                out.push(Grams::Text(m));
            }
        }
        out
    }

    /// The n-grams of one segment's references, reusable across systems.
    pub fn prepare(&self, refs: &[&str]) -> Vec<Vec<Grams>> {
        refs.iter().map(|r| self.ngrams(r)).collect()
    }

    /// Per order `[hyp, ref, match]` of the best reference.
    pub fn segment_stats(&self, hyp: &str, refs: &[&str]) -> Vec<u64> {
        self.stats_prepared(hyp, &self.prepare(refs))
    }

    /// Per order `[hyp, ref, match]` against prepared references: the best by F-score.
    pub fn stats_prepared(&self, hyp: &str, refs: &[Vec<Grams>]) -> Vec<u64> {
        let hyp_ngrams = self.ngrams(hyp);
        let mut best: Vec<u64> = Vec::new();
        let mut best_f = -1.0;
        for ref_ngrams in refs {
            let mut stats = Vec::with_capacity(3 * self.order());
            for (h, rr) in hyp_ngrams.iter().zip(ref_ngrams) {
                let (hyp_count, matched) = h.match_against(rr);
                stats.push(if rr.is_empty() { 0 } else { hyp_count });
                stats.push(rr.total());
                stats.push(matched);
            }
            let f = self.f_score(&stats);
            if f > best_f {
                best_f = f;
                best = stats;
            }
        }
        best
    }

    /// Per segment of each system (`result[system][segment]`), `[hyp, ref, match]` per order;
    /// `refs[k][i]` is reference stream `k` for segment `i`.
    pub fn systems_stats(&self, systems: &[&[String]], refs: &[Vec<String>]) -> Vec<Vec<Vec<u64>>> {
        super::segment_stats_of_systems(systems, refs, |r| self.prepare(r), |h, p| self.stats_prepared(h, p))
    }

    pub fn corpus_stats(&self, hyps: &[String], refs: &[Vec<String>]) -> Vec<Vec<u64>> {
        self.systems_stats(&[hyps], refs).pop().unwrap_or_default()
    }

    /// The chrF score (0–100) of (summed) statistics.
    pub fn f_score(&self, stats: &[u64]) -> f64 {
        let eps = 1e-16;
        let factor = (self.beta * self.beta) as f64;
        let mut score = 0.0;
        let (mut avg_prec, mut avg_rec) = (0.0, 0.0);
        let mut effective_order = 0;
        for i in 0..self.order() {
            let (n_hyp, n_ref, n_match) = (stats[3 * i] as f64, stats[3 * i + 1] as f64, stats[3 * i + 2] as f64);
            let prec = if n_hyp > 0.0 { n_match / n_hyp } else { eps };
            let rec = if n_ref > 0.0 { n_match / n_ref } else { eps };
            let denom = factor * prec + rec;
            score += if denom > 0.0 { (1.0 + factor) * prec * rec / denom } else { eps };
            if n_hyp > 0.0 && n_ref > 0.0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * score / self.order() as f64;
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let s = (1.0 + factor) * avg_prec * avg_rec / ((factor * avg_prec) + avg_rec);
            100.0 * s
        } else {
            0.0
        }
    }

    pub fn corpus_score(&self, hyps: &[String], refs: &[Vec<String>]) -> f64 {
        self.f_score(&sum_stats(&self.corpus_stats(hyps, refs), 3 * self.order()))
    }
}

/// The n-gram counts of one order: packed character n-grams, or text keys for long character
/// n-grams and word n-grams.
#[derive(Debug, Clone)]
pub enum Grams {
    Packed(FxHashMap<u128, u64>),
    Text(FxHashMap<String, u64>),
}

impl Grams {
    fn is_empty(&self) -> bool {
        match self {
            Grams::Packed(m) => m.is_empty(),
            Grams::Text(m) => m.is_empty(),
        }
    }

    fn total(&self) -> u64 {
        match self {
            Grams::Packed(m) => m.values().sum(),
            Grams::Text(m) => m.values().sum(),
        }
    }

    /// (hypothesis n-gram count, clipped matches) of `self` (hypothesis) against `other`.
    fn match_against(&self, other: &Grams) -> (u64, u64) {
        let (mut count, mut matched) = (0, 0);
        match (self, other) {
            (Grams::Packed(h), Grams::Packed(r)) => {
                for (g, &c) in h {
                    count += c;
                    matched += r.get(g).map_or(0, |&rc| c.min(rc));
                }
            }
            (Grams::Text(h), Grams::Text(r)) => {
                for (g, &c) in h {
                    count += c;
                    matched += r.get(g).map_or(0, |&rc| c.min(rc));
                }
            }
            _ => unreachable!("the same order is always keyed the same way"),
        }
        (count, matched)
    }
}

/// Element-wise sum of equal-length statistic vectors.
pub fn sum_stats(stats: &[Vec<u64>], len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for s in stats {
        for (a, b) in out.iter_mut().zip(s) {
            *a += b;
        }
    }
    out
}

/// sacrebleu's `_remove_punctuation`: split one punctuation mark off the end, or else the start,
/// of each word longer than one character.
fn remove_punctuation(sent: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in py_split(sent) {
        let mut chars = w.chars();
        let first = chars.next();
        let last = w.chars().next_back();
        if w.chars().count() == 1 {
            out.push(w.to_owned());
        } else if let Some(l) = last.filter(|c| PUNCTS.contains(*c)) {
            out.push(w[..w.len() - l.len_utf8()].to_owned());
            out.push(l.to_string());
        } else if let Some(f) = first.filter(|c| PUNCTS.contains(*c)) {
            out.push(f.to_string());
            out.push(w[f.len_utf8()..].to_owned());
        } else {
            out.push(w.to_owned());
        }
    }
    out
}

/// chrF statistics as rows for the resampling tests.
pub fn item_stats<'a>(cfg: &'a ChrfConfig, stats: &[Vec<u64>]) -> crate::metrics::stats::ItemStats<'a> {
    crate::metrics::stats::ItemStats {
        rows: stats.iter().map(|s| s.iter().map(|&x| x as f64).collect()).collect(),
        score: Box::new(move |v: &[f64]| cfg.f_score(&v.iter().map(|&x| x as u64).collect::<Vec<_>>())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sacrebleu_vectors() {
        // Checked against sacrebleu 2.6.0: whitespace is removed by default, kept on request.
        let c = ChrfConfig::default();
        assert!((c.f_score(&c.segment_stats("a b c", &["abc"])) - 100.0).abs() < 1e-9);
        let ws = ChrfConfig { whitespace: true, ..ChrfConfig::default() };
        assert!((ws.f_score(&ws.segment_stats("a b c", &["abc"])) - 29.411764705882348).abs() < 1e-9);
        let same = c.f_score(&c.segment_stats("The cat sat.", &["The cat sat."]));
        assert!((same - 100.0).abs() < 1e-9);
        assert_eq!(remove_punctuation("Hello, (world) x ."), vec!["Hello", ",", "(world", ")", "x", "."]);
    }
}
