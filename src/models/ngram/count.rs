//! Reading a training corpus and counting its n-grams, in parallel and over integer ids.
//!
//! The corpus is read the way lmplz reads it: one sentence per line, words split on ASCII
//! whitespace, `</s>` appended to every line that ends in a newline (a final line without one gets
//! no `</s>`, as in lmplz), and the context of the first word padded with `<s>`. Every token then
//! yields one padded n-gram of the model's order; those are packed into integers where they fit,
//! sorted with rayon and run-length counted.

use std::path::Path;

use rayon::prelude::*;

use super::NgramError;
use super::vocab::{self, BOS, EOS, Vocab};

/// The training text as id sequences, one per line.
pub struct Corpus {
    pub vocab: Vocab,
    /// All sentences back to back; each ends in `</s>` unless it is an unterminated last line.
    pub tokens: Vec<u32>,
    /// `sentence_ends[i]` is one past the last token of sentence `i` in `tokens`.
    pub sentence_ends: Vec<usize>,
    /// Words read, excluding `</s>` (lmplz's "Unigram tokens").
    pub word_count: u64,
}

/// What to do with `<s>`, `</s>` or `<unk>` written literally in training text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialSymbols {
    /// lmplz's default: refuse the corpus, naming the line.
    Reject,
    /// lmplz `--skip_symbols`: treat them as whitespace.
    Skip,
}

impl Corpus {
    pub fn read(path: &Path, specials: SpecialSymbols) -> Result<Corpus, NgramError> {
        let bytes = std::fs::read(path).map_err(|e| NgramError::io(path, e))?;
        Self::from_bytes(path, &bytes, specials)
    }

    pub fn from_bytes(path: &Path, bytes: &[u8], specials: SpecialSymbols) -> Result<Corpus, NgramError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            NgramError::Corpus { path: path.to_owned(), line, message: "invalid UTF-8".into() }
        })?;
        let mut vocab = Vocab::with_specials();
        let mut tokens = Vec::with_capacity(text.len() / 5);
        let mut sentence_ends = Vec::new();
        let mut word_count = 0u64;
        let mut rest = text;
        let mut line_no = 0usize;
        while !rest.is_empty() {
            line_no += 1;
            let (line, terminated, next) = match rest.find('\n') {
                Some(i) => (&rest[..i], true, &rest[i + 1..]),
                None => (rest, false, ""),
            };
            for word in vocab::split_words(line) {
                if vocab::is_special(word) {
                    match specials {
                        SpecialSymbols::Skip => continue,
                        SpecialSymbols::Reject => {
                            return Err(NgramError::Corpus {
                                path: path.to_owned(),
                                line: line_no,
                                message: format!(
                                    "special word {word} is not allowed in training text \
                                     (use --skip-symbols / skip_symbols: true to treat it as whitespace)"
                                ),
                            });
                        }
                    }
                }
                tokens.push(vocab.insert(word));
                word_count += 1;
            }
            if terminated {
                tokens.push(EOS);
            }
            sentence_ends.push(tokens.len());
            rest = next;
        }
        if word_count == 0 {
            return Err(NgramError::Corpus {
                path: path.to_owned(),
                line: line_no.max(1),
                message: "training text has no words".into(),
            });
        }
        Ok(Corpus { vocab, tokens, sentence_ends, word_count })
    }
}

/// A set of distinct n-grams of one order in lexicographic id order, each with a count.
#[derive(Debug, Clone, Default)]
pub struct GramTable {
    pub order: usize,
    /// `ids[i * order .. (i + 1) * order]` is n-gram `i`.
    pub ids: Vec<u32>,
    /// Adjusted (Kneser-Ney) counts once estimation has run; raw counts straight after counting.
    pub counts: Vec<u64>,
    /// Raw occurrence counts, used to decide pruning as lmplz does.
    pub raw: Vec<u64>,
}

impl GramTable {
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn gram(&self, i: usize) -> &[u32] {
        &self.ids[i * self.order..(i + 1) * self.order]
    }

    /// Index of `gram` by binary search.
    pub fn find(&self, gram: &[u32]) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.gram(mid).cmp(gram) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Sorts `(gram, [count, raw])` pairs given as flat ids and sums the weights of equal grams.
    pub fn from_weighted(order: usize, ids: Vec<u32>, weights: Vec<[u64; 2]>, vocab_size: usize) -> GramTable {
        let n = weights.len();
        debug_assert_eq!(ids.len(), n * order);
        let bits = bits_for(vocab_size);
        let mut perm: Vec<u32> = (0..n as u32).collect();
        if bits * order <= 128 {
            let keys: Vec<u128> =
                (0..n).into_par_iter().map(|i| pack(&ids[i * order..(i + 1) * order], bits)).collect();
            perm.par_sort_unstable_by_key(|&i| keys[i as usize]);
        } else {
            perm.par_sort_unstable_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                ids[a * order..(a + 1) * order].cmp(&ids[b * order..(b + 1) * order])
            });
        }
        let mut out = GramTable { order, ids: Vec::with_capacity(ids.len()), counts: Vec::new(), raw: Vec::new() };
        for &p in &perm {
            let p = p as usize;
            let gram = &ids[p * order..(p + 1) * order];
            let same = !out.is_empty() && out.gram(out.len() - 1) == gram;
            if same {
                *out.counts.last_mut().unwrap() += weights[p][0];
                let raw = out.raw.last_mut().unwrap();
                *raw = raw.saturating_add(weights[p][1]);
            } else {
                out.ids.extend_from_slice(gram);
                out.counts.push(weights[p][0]);
                out.raw.push(weights[p][1]);
            }
        }
        out
    }
}

fn bits_for(vocab_size: usize) -> usize {
    (usize::BITS - vocab_size.max(2).saturating_sub(1).leading_zeros()) as usize
}

fn pack(gram: &[u32], bits: usize) -> u128 {
    gram.iter().fold(0u128, |acc, &w| (acc << bits) | w as u128)
}

/// Counts every padded n-gram of `order`: one per token, its context filled with `<s>` before the
/// sentence start. This is lmplz's `CorpusCount` output before adjustment.
pub fn count_padded(corpus: &Corpus, order: usize) -> GramTable {
    let mut starts = Vec::with_capacity(corpus.sentence_ends.len());
    let mut prev = 0;
    for &end in &corpus.sentence_ends {
        starts.push((prev, end));
        prev = end;
    }
    let chunks: Vec<Vec<u32>> = starts
        .par_chunks(4096)
        .map(|sentences| {
            let mut flat = Vec::new();
            let mut window = vec![BOS; order];
            for &(s, e) in sentences {
                window.iter_mut().for_each(|w| *w = BOS);
                for &tok in &corpus.tokens[s..e] {
                    window.rotate_left(1);
                    window[order - 1] = tok;
                    flat.extend_from_slice(&window);
                }
            }
            flat
        })
        .collect();
    let ids: Vec<u32> = chunks.concat();
    let n = ids.len() / order;
    GramTable::from_weighted(order, ids, vec![[1, 1]; n], corpus.vocab.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus(text: &str) -> Corpus {
        Corpus::from_bytes(&PathBuf::from("t.txt"), text.as_bytes(), SpecialSymbols::Reject).unwrap()
    }

    #[test]
    fn padded_trigrams() {
        let c = corpus("a b\na\n");
        let t = count_padded(&c, 3);
        let a = c.vocab.get("a").unwrap();
        let b = c.vocab.get("b").unwrap();
        let bos_bos_a = t.find(&[BOS, BOS, a]).unwrap();
        assert_eq!(t.counts[bos_bos_a], 2);
        assert!(t.find(&[BOS, a, b]).is_some());
        assert!(t.find(&[a, b, EOS]).is_some());
        assert!(t.find(&[BOS, a, EOS]).is_some());
        assert_eq!(t.counts.iter().sum::<u64>(), 5);
    }

    #[test]
    fn unterminated_last_line_has_no_eos() {
        let c = corpus("a b\nc");
        assert_eq!(c.tokens.iter().filter(|&&t| t == EOS).count(), 1);
        assert_eq!(c.word_count, 3);
    }

    #[test]
    fn specials_are_rejected_with_line() {
        let err = Corpus::from_bytes(&PathBuf::from("t.txt"), b"a\nb <unk>\n", SpecialSymbols::Reject).err().unwrap();
        assert!(err.to_string().contains("t.txt:2"), "{err}");
        let c = Corpus::from_bytes(&PathBuf::from("t.txt"), b"a\nb <unk>\n", SpecialSymbols::Skip).unwrap();
        assert_eq!(c.word_count, 2);
    }

    #[test]
    fn invalid_utf8_names_line() {
        let err = Corpus::from_bytes(&PathBuf::from("t.txt"), b"ok\nbad \xff\n", SpecialSymbols::Reject).err().unwrap();
        assert!(err.to_string().contains("t.txt:2"), "{err}");
    }
}
