//! Scoring text with a back-off n-gram model, with the numbers KenLM's `query` prints.
//!
//! Lookups go right to left like KenLM's: the unigram of the new word, then the bigram formed with
//! the previous word, and so on until an n-gram is missing. Each n-gram is keyed by the index of
//! its suffix and its first word, so the hot maps hold two integers, are collision free, and one
//! lookup extends a match by one word. Backoffs of the unmatched longer contexts are added in
//! `f32`, per-line totals are `f32` and corpus totals `f64`, as in KenLM.

use rustc_hash::FxHashMap;

use super::ArpaModel;
use super::vocab::{BOS_STR, EOS_STR, UNK_STR, split_words};

#[derive(Debug, Clone, Copy)]
struct ProbBackoff {
    prob: f32,
    backoff: f32,
}

/// What a back-off model remembers: the last words (most recent first) and the backoffs of the
/// contexts they form.
#[derive(Debug, Clone)]
pub struct Context {
    history: Vec<u32>,
    backoffs: Vec<f32>,
}

/// A model ready for scoring.
pub struct QueryLm {
    order: usize,
    vocab: FxHashMap<String, u32>,
    words: Vec<String>,
    unigrams: Vec<ProbBackoff>,
    /// `maps[k]` indexes the (k+2)-grams: (suffix index << 32 | first word) → entry index.
    maps: Vec<FxHashMap<u64, u32>>,
    values: Vec<Vec<ProbBackoff>>,
    unk: u32,
    bos: u32,
    eos: u32,
    /// N-grams that could not be placed because their suffix is absent (KenLM never reaches them).
    pub unreachable: usize,
}

/// One scored token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    pub log10_prob: f32,
    pub oov: bool,
    /// Length of the longest n-gram matched.
    pub ngram_length: u8,
}

/// Totals over a corpus with KenLM query's definitions.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueryStats {
    pub sentences: u64,
    /// Words plus one `</s>` per sentence.
    pub tokens: u64,
    pub oov: u64,
    /// Sum of log10 probabilities over all tokens.
    pub log10_prob: f64,
    pub perplexity_including_oov: f64,
    pub perplexity_excluding_oov: f64,
    #[serde(skip)]
    pub log10_prob_oov_only: f64,
}

impl QueryLm {
    pub fn new(model: &ArpaModel) -> QueryLm {
        let vocab: FxHashMap<String, u32> =
            model.words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        let order = model.order();
        let mut unigrams = vec![ProbBackoff { prob: 0.0, backoff: 0.0 }; model.words.len()];
        let uni = &model.orders[0];
        for i in 0..uni.len() {
            let backoff = uni.log10_backoff.get(i).copied().unwrap_or(0.0);
            unigrams[uni.gram(i)[0] as usize] = ProbBackoff { prob: uni.log10_prob[i], backoff };
        }
        let mut maps: Vec<FxHashMap<u64, u32>> = Vec::with_capacity(order.saturating_sub(1));
        let mut values = Vec::with_capacity(order.saturating_sub(1));
        let mut unreachable = 0;
        for table in &model.orders[1..] {
            let k = table.order;
            let mut map = FxHashMap::with_capacity_and_hasher(table.len(), Default::default());
            let mut vals = Vec::with_capacity(table.len());
            'entries: for i in 0..table.len() {
                let gram = table.gram(i);
                let mut idx = gram[k - 1];
                for j in (1..k - 1).rev() {
                    match maps[k - 1 - j - 1].get(&key(idx, gram[j])) {
                        Some(&next) => idx = next,
                        None => {
                            unreachable += 1;
                            continue 'entries;
                        }
                    }
                }
                let backoff = table.log10_backoff.get(i).copied().unwrap_or(0.0);
                map.insert(key(idx, gram[0]), vals.len() as u32);
                vals.push(ProbBackoff { prob: table.log10_prob[i], backoff });
            }
            maps.push(map);
            values.push(vals);
        }
        let id = |w: &str| vocab.get(w).copied().unwrap_or(0);
        QueryLm {
            order,
            words: model.words.clone(),
            unk: id(UNK_STR),
            bos: id(BOS_STR),
            eos: id(EOS_STR),
            vocab,
            unigrams,
            maps,
            values,
            unreachable,
        }
    }

    pub fn order(&self) -> usize {
        self.order
    }

    pub fn vocab_size(&self) -> usize {
        self.unigrams.len()
    }

    /// The state at the start of a sentence (after `<s>`).
    pub fn begin(&self) -> Context {
        Context { history: vec![self.bos], backoffs: vec![self.unigrams[self.bos as usize].backoff] }
    }

    /// log10 p(word | context), the length of the n-gram matched, and in `new_backoffs` the
    /// backoffs of the contexts that end in `word` (for [`QueryLm::advance`]).
    fn lookup(&self, ctx: &Context, word: u32, new_backoffs: &mut Vec<f32>) -> (f32, usize) {
        let uni = self.unigrams[word as usize];
        let mut prob = uni.prob;
        let mut matched = 1usize;
        new_backoffs.clear();
        new_backoffs.push(uni.backoff);
        let mut idx = word;
        let limit = ctx.history.len().min(self.order - 1);
        for l in 0..limit {
            match self.maps[l].get(&key(idx, ctx.history[l])) {
                Some(&next) => {
                    let v = self.values[l][next as usize];
                    idx = next;
                    prob = v.prob;
                    matched = l + 2;
                    new_backoffs.push(v.backoff);
                }
                None => break,
            }
        }
        for &b in &ctx.backoffs[matched - 1..limit] {
            prob += b;
        }
        (prob, matched)
    }

    /// Moves the context past `word`; contexts that were not found have backoff 0.
    fn advance(&self, ctx: &mut Context, word: u32, new_backoffs: &[f32]) {
        if self.order > 1 {
            ctx.history.insert(0, word);
            ctx.history.truncate(self.order - 1);
            ctx.backoffs.clear();
            ctx.backoffs.extend_from_slice(new_backoffs);
            ctx.backoffs.resize(ctx.history.len(), 0.0);
        }
    }

    /// Moves the context past a word given as text (unknown words as `<unk>`).
    pub fn feed(&self, ctx: &mut Context, word: &str) {
        let id = self.vocab.get(word).copied().unwrap_or(self.unk);
        let mut nb = Vec::with_capacity(self.order);
        self.lookup(ctx, id, &mut nb);
        self.advance(ctx, id, &nb);
    }

    /// Natural-log probability of every word id after `ctx` (`<s>` and `<unk>` get −∞: a
    /// generator must not produce them).
    pub fn next_logprobs(&self, ctx: &Context) -> Vec<f32> {
        let mut nb = Vec::with_capacity(self.order);
        (0..self.unigrams.len() as u32)
            .map(|w| {
                if w == self.bos || w == self.unk {
                    f32::NEG_INFINITY
                } else {
                    self.lookup(ctx, w, &mut nb).0 * std::f32::consts::LN_10
                }
            })
            .collect()
    }

    /// Moves the context past word id `word`, returning its text (empty for `</s>`).
    pub fn advance_id(&self, ctx: &mut Context, word: u32) -> &str {
        let mut nb = Vec::with_capacity(self.order);
        self.lookup(ctx, word, &mut nb);
        self.advance(ctx, word, &nb);
        if word == self.eos { "" } else { &self.words[word as usize] }
    }

    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// Scores one sentence (a line, without its newline): every word, then `</s>`.
    pub fn score_sentence(&self, line: &str, out: &mut Vec<TokenScore>) {
        let mut ctx = self.begin();
        let mut new_backoffs: Vec<f32> = Vec::with_capacity(self.order);
        let words = split_words(line).map(|w| self.vocab.get(w).copied()).chain(std::iter::once(Some(self.eos)));
        for found in words {
            let word = found.unwrap_or(self.unk);
            let oov = found.is_none() || word == self.unk;
            let (prob, matched) = self.lookup(&ctx, word, &mut new_backoffs);
            out.push(TokenScore { log10_prob: prob, oov, ngram_length: matched as u8 });
            self.advance(&mut ctx, word, &new_backoffs);
        }
    }

    /// Scores many lines and totals them with KenLM query's definitions.
    pub fn score_lines<'a>(&self, lines: impl Iterator<Item = &'a str>) -> QueryStats {
        let mut stats = QueryStats::default();
        let mut scores = Vec::new();
        for line in lines {
            scores.clear();
            self.score_sentence(line, &mut scores);
            let mut total = 0.0f32;
            for s in &scores {
                total += s.log10_prob;
                if s.oov {
                    stats.oov += 1;
                    stats.log10_prob_oov_only += s.log10_prob as f64;
                }
            }
            stats.tokens += scores.len() as u64;
            stats.sentences += 1;
            stats.log10_prob += total as f64;
        }
        stats.finish();
        stats
    }
}

impl QueryStats {
    fn finish(&mut self) {
        self.perplexity_including_oov = 10f64.powf(-(self.log10_prob / self.tokens as f64));
        self.perplexity_excluding_oov =
            10f64.powf(-((self.log10_prob - self.log10_prob_oov_only) / (self.tokens - self.oov) as f64));
    }
}

fn key(suffix: u32, first: u32) -> u64 {
    ((suffix as u64) << 32) | first as u64
}

#[cfg(test)]
mod tests {
    use super::super::arpa::parse_arpa;
    use super::*;
    use std::path::PathBuf;

    // KenLM's lm/test.arpa (excerpt sufficient for the documented vector).
    const KENLM_TEST: &str = include_str!("../../../tests/fixtures/kenlm/test.arpa");

    #[test]
    fn kenlm_test_arpa_vector() {
        let model = parse_arpa(&PathBuf::from("test.arpa"), KENLM_TEST.as_bytes()).unwrap();
        let lm = QueryLm::new(&model);
        let mut out = Vec::new();
        lm.score_sentence("looking", &mut out);
        assert!((out[0].log10_prob - (-0.4846522)).abs() < 1e-6, "{:?}", out[0]);
    }
}
