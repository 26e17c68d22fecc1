//! ROUGE-N, ROUGE-L and ROUGE-Lsum exactly as Google's `rouge_score` computes them.
//!
//! Tokens: lower-case, every run of characters outside `[a-z0-9]` becomes a space, split, stem
//! tokens longer than 3 characters with NLTK's Porter stemmer when asked, keep tokens matching
//! `^[a-z0-9]+$` (so non-ASCII text vanishes). ROUGE-N counts clipped n-gram overlap; ROUGE-L is
//! the LCS of the whole texts; ROUGE-Lsum splits on newlines and takes the union LCS of each
//! reference sentence against all candidate sentences, with per-token hit budgets. Several
//! references: the one with the highest F-measure per type (`score_multi`).

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::porter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum RougeType {
    #[serde(rename = "rouge1")]
    Rouge1,
    #[serde(rename = "rouge2")]
    Rouge2,
    #[serde(rename = "rougeL")]
    RougeL,
    #[serde(rename = "rougeLsum")]
    RougeLsum,
}

impl RougeType {
    pub const ALL: [RougeType; 4] = [RougeType::Rouge1, RougeType::Rouge2, RougeType::RougeL, RougeType::RougeLsum];

    pub fn name(self) -> &'static str {
        match self {
            RougeType::Rouge1 => "rouge1",
            RougeType::Rouge2 => "rouge2",
            RougeType::RougeL => "rougeL",
            RougeType::RougeLsum => "rougeLsum",
        }
    }

    pub fn from_name(s: &str) -> Option<RougeType> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// Precision, recall and F-measure of one pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

fn fmeasure(p: f64, r: f64) -> f64 {
    if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
}

fn score(p: f64, r: f64) -> RougeScore {
    RougeScore { precision: p, recall: r, fmeasure: fmeasure(p, r) }
}

/// rouge_score's tokenizer.
pub fn tokenize(text: &str, stem: bool) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in lower.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    if stem {
        for t in tokens.iter_mut() {
            if t.len() > 3 {
                *t = cached_stem(t);
            }
        }
        tokens.retain(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }
    tokens
}

thread_local! {
    /// Stems of words already seen on this thread: text repeats words, stemming is the costly part.
    static STEMS: std::cell::RefCell<FxHashMap<String, String>> = std::cell::RefCell::new(FxHashMap::default());
}

fn cached_stem(word: &str) -> String {
    STEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(s) = cache.get(word) {
            return s.clone();
        }
        let s = porter::stem(word);
        if cache.len() < 1 << 20 {
            cache.insert(word.to_owned(), s.clone());
        }
        s
    })
}

/// Scores one prediction against one target for the requested types.
#[derive(Debug, Clone)]
pub struct RougeScorer {
    pub types: Vec<RougeType>,
    pub stem: bool,
}

impl RougeScorer {
    pub fn score(&self, target: &str, prediction: &str) -> Vec<(RougeType, RougeScore)> {
        let needs_tokens = self.types.iter().any(|t| *t != RougeType::RougeLsum);
        let (tt, pt) = if needs_tokens {
            (tokenize(target, self.stem), tokenize(prediction, self.stem))
        } else {
            (Vec::new(), Vec::new())
        };
        self.types
            .iter()
            .map(|&ty| {
                let s = match ty {
                    RougeType::Rouge1 => rouge_n(&tt, &pt, 1),
                    RougeType::Rouge2 => rouge_n(&tt, &pt, 2),
                    RougeType::RougeL => rouge_l(&tt, &pt),
                    RougeType::RougeLsum => {
                        let sents = |text: &str| -> Vec<Vec<String>> {
                            text.split('\n').filter(|s| !s.is_empty()).map(|s| tokenize(s, self.stem)).collect()
                        };
                        rouge_lsum(&sents(target), &sents(prediction))
                    }
                };
                (ty, s)
            })
            .collect()
    }

    /// `score_multi`: per type, the score of the target with the highest F-measure (first wins).
    pub fn score_multi(&self, targets: &[&str], prediction: &str) -> Vec<(RougeType, RougeScore)> {
        let all: Vec<Vec<(RougeType, RougeScore)>> = targets.iter().map(|t| self.score(t, prediction)).collect();
        (0..self.types.len())
            .map(|k| {
                let mut best = all[0][k];
                for s in &all[1..] {
                    if s[k].1.fmeasure > best.1.fmeasure {
                        best = s[k];
                    }
                }
                best
            })
            .collect()
    }
}

fn ngrams(tokens: &[String], n: usize) -> FxHashMap<&[String], u64> {
    let mut m = FxHashMap::default();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

pub fn rouge_n(target: &[String], prediction: &[String], n: usize) -> RougeScore {
    let t = ngrams(target, n);
    let p = ngrams(prediction, n);
    let overlap: u64 = t.iter().map(|(g, &c)| c.min(p.get(g).copied().unwrap_or(0))).sum();
    let tc: u64 = t.values().sum();
    let pc: u64 = p.values().sum();
    score(overlap as f64 / pc.max(1) as f64, overlap as f64 / tc.max(1) as f64)
}

/// Row `i` of the LCS dynamic-programming table from row `i - 1`.
fn next_row(prev: &[u32], row: &mut [u32], word: &str, c: &[String]) {
    row[0] = 0;
    for j in 1..=c.len() {
        row[j] = if word == c[j - 1] { prev[j - 1] + 1 } else { prev[j].max(row[j - 1]) };
    }
}

/// The LCS length in two rows of memory: a 60k-token line costs 0.5 MB, not the 16.8 GB of
/// the whole table.
fn lcs_length(r: &[String], c: &[String]) -> u32 {
    let (mut prev, mut cur) = (vec![0u32; c.len() + 1], vec![0u32; c.len() + 1]);
    for word in r {
        next_row(&prev, &mut cur, word, c);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[c.len()]
}

pub fn rouge_l(target: &[String], prediction: &[String]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    let lcs = lcs_length(target, prediction) as f64;
    score(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// Indices into `r` of one LCS with `c`, backtracking as rouge_score's `_backtrack_norec` does
/// over the full table, but keeping only every k-th row (k = √|r|) and recomputing one block of
/// k rows at a time as the backtrack reaches it: the same path, in O(√|r|·|c|) memory for about
/// twice the arithmetic.
fn lcs_indices(r: &[String], c: &[String]) -> Vec<usize> {
    let (m, cols) = (r.len(), c.len() + 1);
    let k = ((m as f64).sqrt().ceil() as usize).max(1);
    let mut saved: Vec<Vec<u32>> = Vec::with_capacity(m / k + 1);
    let (mut prev, mut cur) = (vec![0u32; cols], vec![0u32; cols]);
    saved.push(prev.clone());
    for i in 1..=m {
        next_row(&prev, &mut cur, &r[i - 1], c);
        std::mem::swap(&mut prev, &mut cur);
        if i % k == 0 {
            saved.push(prev.clone());
        }
    }
    let (mut i, mut j) = (m, c.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        // Rows s..=i of the table, from the checkpoint at s.
        let s = (i - 1) / k * k;
        let mut rows: Vec<Vec<u32>> = Vec::with_capacity(i - s + 1);
        rows.push(saved[s / k].clone());
        for t in s + 1..=i {
            let mut row = vec![0u32; cols];
            next_row(&rows[t - 1 - s], &mut row, &r[t - 1], c);
            rows.push(row);
        }
        while i > s && j > 0 {
            if r[i - 1] == c[j - 1] {
                out.push(i - 1);
                i -= 1;
                j -= 1;
            } else if rows[i - s][j - 1] > rows[i - 1 - s][j] {
                j -= 1;
            } else {
                i -= 1;
            }
        }
    }
    out.reverse();
    out
}

pub fn rouge_lsum(target: &[Vec<String>], prediction: &[Vec<String>]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    let m: usize = target.iter().map(|s| s.len()).sum();
    let n: usize = prediction.iter().map(|s| s.len()).sum();
    if m == 0 || n == 0 {
        return RougeScore::default();
    }
    let mut cnt_r: HashMap<&str, i64> = HashMap::new();
    let mut cnt_c: HashMap<&str, i64> = HashMap::new();
    for s in target {
        for t in s {
            *cnt_r.entry(t).or_insert(0) += 1;
        }
    }
    for s in prediction {
        for t in s {
            *cnt_c.entry(t).or_insert(0) += 1;
        }
    }
    let mut hits = 0u64;
    for r in target {
        let mut union: Vec<usize> = prediction.iter().flat_map(|c| lcs_indices(r, c)).collect();
        union.sort_unstable();
        union.dedup();
        for i in union {
            let tok = r[i].as_str();
            let (c, rr) = (cnt_c.get(tok).copied().unwrap_or(0), cnt_r.get(tok).copied().unwrap_or(0));
            if c > 0 && rr > 0 {
                hits += 1;
                *cnt_c.get_mut(tok).expect("counted") -= 1;
                *cnt_r.get_mut(tok).expect("counted") -= 1;
            }
        }
    }
    score(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rouge_score's `_backtrack_norec` over the whole table, the reference for the checkpointed one.
    fn full_table_indices(r: &[String], c: &[String]) -> Vec<usize> {
        let cols = c.len() + 1;
        let mut t = vec![0u32; (r.len() + 1) * cols];
        for i in 1..=r.len() {
            for j in 1..=c.len() {
                t[i * cols + j] = if r[i - 1] == c[j - 1] {
                    t[(i - 1) * cols + j - 1] + 1
                } else {
                    t[(i - 1) * cols + j].max(t[i * cols + j - 1])
                };
            }
        }
        let (mut i, mut j, mut out) = (r.len(), c.len(), Vec::new());
        while i > 0 && j > 0 {
            if r[i - 1] == c[j - 1] {
                out.push(i - 1);
                i -= 1;
                j -= 1;
            } else if t[i * cols + j - 1] > t[(i - 1) * cols + j] {
                j -= 1;
            } else {
                i -= 1;
            }
        }
        out.reverse();
        out
    }

    #[test]
    fn checkpointed_backtrack_takes_the_full_tables_path() {
        let mut state = 7u64;
        let mut word = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ["a", "b", "c", "d"][(state >> 60) as usize % 4].to_string()
        };
        for (m, n) in [(0, 3), (1, 1), (5, 9), (17, 4), (40, 41), (100, 7), (64, 64)] {
            let r: Vec<String> = (0..m).map(|_| word()).collect();
            let c: Vec<String> = (0..n).map(|_| word()).collect();
            assert_eq!(lcs_indices(&r, &c), full_table_indices(&r, &c), "{m}x{n}");
            assert_eq!(lcs_length(&r, &c) as usize, full_table_indices(&r, &c).len());
        }
    }

    fn toks(s: &str) -> Vec<String> {
        tokenize(s, false)
    }

    #[test]
    fn rouge_score_vectors() {
        let s = rouge_n(&toks("testing one two"), &toks("testing"), 1);
        assert_eq!((s.precision, s.recall), (1.0, 1.0 / 3.0));
        assert!((s.fmeasure - 0.5).abs() < 1e-12);
        let sc = RougeScorer { types: vec![RougeType::RougeLsum], stem: false };
        let r = sc.score("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5")[0].1;
        assert!((r.recall - 0.8).abs() < 1e-12 && (r.precision - 0.4).abs() < 1e-12);
        assert!((r.fmeasure - 0.533333333333).abs() < 1e-9);
    }

    #[test]
    fn tokenizer_drops_non_ascii_and_stems() {
        assert_eq!(tokenize("Héllo, WORLD! running-dogs", false), vec!["h", "llo", "world", "running", "dogs"]);
        assert_eq!(tokenize("running dogs", true), vec!["run", "dog"]);
    }
}
