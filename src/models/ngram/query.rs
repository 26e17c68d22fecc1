//! Scoring text with a back-off n-gram model, with the numbers KenLM's `query` prints.
//!
//! Lookups go right to left like KenLM's: the unigram of the new word, then the bigram formed with
//! the previous word, and so on until an n-gram is missing. Each n-gram is keyed by a hash of its
//! words that extends right to left ([`super::image`]), so one lookup extends a match by one word
//! and no probe waits for the one before it. Backoffs of the unmatched longer
//! contexts are added in `f32`, per-line totals are `f32` and corpus totals `f64`, as in KenLM.

use std::path::Path;

use super::image::Image;
use super::vocab::{BOS_STR, EOS_STR, UNK_STR, split_words};
use super::{ArpaModel, NgramError};

/// What a back-off model remembers: the last words (most recent first) and the backoffs of the
/// contexts they form.
#[derive(Debug, Clone)]
pub struct Context {
    history: Vec<u32>,
    backoffs: Vec<f32>,
    /// Length of the longest n-gram that ended at the last word.
    matched: usize,
}

/// A model ready for scoring: its tables built from an ARPA model, or mapped from a binary file.
pub struct QueryLm {
    order: usize,
    image: Image,
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
        Self::from_image(super::image_build::image(model))
    }

    /// Maps a binary n-gram file written by [`QueryLm::write_binary`] (`lmgauge ngram build`).
    pub fn open_binary(path: &Path) -> Result<QueryLm, NgramError> {
        Ok(Self::from_image(Image::open(path)?))
    }

    /// Writes the model's tables as a binary n-gram file, which [`QueryLm::open_binary`] maps.
    pub fn write_binary(&self, path: &Path) -> Result<(), NgramError> {
        self.image.write(path)
    }

    fn from_image(image: Image) -> QueryLm {
        let id = |w: &str| image.id(w).unwrap_or(0);
        let (unk, bos, eos) = (id(UNK_STR), id(BOS_STR), id(EOS_STR));
        QueryLm { order: image.order, unk, bos, eos, unreachable: image.unreachable, image }
    }

    pub fn order(&self) -> usize {
        self.order
    }

    pub fn vocab_size(&self) -> usize {
        self.image.words
    }

    /// The state at the start of a sentence (after `<s>`).
    pub fn begin(&self) -> Context {
        Context { history: vec![self.bos], backoffs: vec![self.image.unigram(self.bos).1], matched: 1 }
    }

    /// log10 p(word | context), the length of the n-gram matched, and in `new_backoffs` the
    /// backoffs of the contexts that end in `word` (for [`QueryLm::advance`]).
    fn lookup(&self, ctx: &Context, word: u32, new_backoffs: &mut Vec<f32>) -> (f32, usize) {
        let (mut prob, backoff) = self.image.unigram(word);
        let mut matched = 1usize;
        new_backoffs.clear();
        new_backoffs.push(backoff);
        let mut key = word as u64;
        let limit = ctx.history.len().min(self.order - 1);
        // In a prefix-closed model an n-gram ending here is at most one word longer than the
        // longest that ended at the last word; longer probes would all miss.
        let reach = if self.image.prefix_closed { limit.min(ctx.matched) } else { limit };
        for l in 0..reach {
            key = super::image::extend(key, ctx.history[l]);
            match self.image.find(l, key) {
                Some((p, b)) => {
                    prob = p;
                    matched = l + 2;
                    new_backoffs.push(b);
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
            ctx.matched = new_backoffs.len();
        }
    }

    /// Moves the context past a word given as text (unknown words as `<unk>`).
    pub fn feed(&self, ctx: &mut Context, word: &str) {
        let id = self.image.id(word).unwrap_or(self.unk);
        let mut nb = Vec::with_capacity(self.order);
        self.lookup(ctx, id, &mut nb);
        self.advance(ctx, id, &nb);
    }

    /// Natural-log probability of every word id after `ctx` (`<s>` and `<unk>` get −∞: a
    /// generator must not produce them).
    pub fn next_logprobs(&self, ctx: &Context) -> Vec<f32> {
        let mut nb = Vec::with_capacity(self.order);
        (0..self.image.words as u32)
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
        if word == self.eos { "" } else { self.image.word(word) }
    }

    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// Scores one sentence (a line, without its newline): every word, then `</s>`.
    pub fn score_sentence(&self, line: &str, out: &mut Vec<TokenScore>) {
        let mut ctx = self.begin();
        let mut new_backoffs: Vec<f32> = Vec::with_capacity(self.order);
        let words = split_words(line).map(|w| self.image.id(w)).chain(std::iter::once(Some(self.eos)));
        for found in words {
            let word = found.unwrap_or(self.unk);
            let oov = found.is_none() || word == self.unk;
            let (prob, matched) = self.lookup(&ctx, word, &mut new_backoffs);
            out.push(TokenScore { log10_prob: prob, oov, ngram_length: matched as u8 });
            self.advance(&mut ctx, word, &new_backoffs);
        }
    }

    /// Scores many lines and totals them with KenLM query's definitions. Lines are scored in
    /// parallel; the totals are then added line by line in order, in the precisions KenLM uses
    /// (a line's total in f32, the corpus's in f64), so they do not depend on the thread count.
    pub fn score_lines<'a>(&self, lines: impl Iterator<Item = &'a str>) -> QueryStats {
        let mut stats = QueryStats::default();
        self.add_lines(lines, &mut stats);
        stats.finish();
        stats
    }

    /// Scores lines into running totals, for text read a block at a time (see
    /// [`QueryLm::score_lines`]); [`QueryStats::finish`] then computes the perplexities.
    pub fn add_lines<'a>(&self, lines: impl Iterator<Item = &'a str>, stats: &mut QueryStats) {
        use rayon::prelude::*;
        let lines: Vec<&str> = lines.collect();
        // Per line: its f32 total, its token count, and the scores of its unknown words.
        let scored: Vec<(f32, u64, Vec<f32>)> = lines
            .par_iter()
            .map_init(Vec::new, |scores, line| {
                scores.clear();
                self.score_sentence(line, scores);
                let mut total = 0.0f32;
                let mut oov = Vec::new();
                for s in scores.iter() {
                    total += s.log10_prob;
                    if s.oov {
                        oov.push(s.log10_prob);
                    }
                }
                (total, scores.len() as u64, oov)
            })
            .collect();
        for (total, tokens, oov) in scored {
            for lp in oov {
                stats.oov += 1;
                stats.log10_prob_oov_only += lp as f64;
            }
            stats.tokens += tokens;
            stats.sentences += 1;
            stats.log10_prob += total as f64;
        }
    }
}

impl QueryStats {
    /// The perplexities of the totals.
    pub fn finish(&mut self) {
        self.perplexity_including_oov = 10f64.powf(-(self.log10_prob / self.tokens as f64));
        self.perplexity_excluding_oov =
            10f64.powf(-((self.log10_prob - self.log10_prob_oov_only) / (self.tokens - self.oov) as f64));
    }
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

    /// A trigram whose prefix bigram is missing (possible in ARPA files from other tools) is
    /// still found: such a model is not prefix-closed, so every order is probed until one misses.
    #[test]
    fn models_that_are_not_prefix_closed_probe_every_order() {
        let arpa = "\\data\\\nngram 1=5\nngram 2=1\nngram 3=1\n\n\\1-grams:\n-1.0\t<unk>\t0\n-99\t<s>\t-0.5\n-1.0\t</s>\t0\n-0.7\ta\t-0.2\n-0.8\tb\t-0.3\n\n\\2-grams:\n-0.4\ta b\t-0.1\n\n\\3-grams:\n-0.05\t<s> a b\n\n\\end\\\n";
        let model = parse_arpa(&PathBuf::from("open.arpa"), arpa.as_bytes()).unwrap();
        let lm = QueryLm::new(&model);
        assert!(!lm.image.prefix_closed);
        let mut out = Vec::new();
        lm.score_sentence("a b", &mut out);
        assert_eq!((out[1].log10_prob, out[1].ngram_length), (-0.05, 3), "{out:?}");
    }
}
