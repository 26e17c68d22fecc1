//! The n-gram model as a harness [`LanguageModel`]: load or train, then score text.
//!
//! Text is scored with KenLM's sentence convention: every line is a sentence that starts after
//! `<s>` and ends with a scored `</s>`. Each word token covers its own bytes; `</s>` covers the
//! newline that ends its line (or nothing at the end of the text), so the spans of all tokens
//! account for the text's bytes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::NgramError;
use super::arpa::{read_arpa_file, write_arpa_file};
use super::count::{Corpus, SpecialSymbols};
use super::estimate::{TrainOptions, estimate};
use super::query::{QueryLm, TokenScore};
use super::vocab::word_spans;
use crate::models::generate::{self, Finish, GenParams, Generation};
use crate::models::{Capability, Generator, LanguageModel, ModelError, TokenScorer, TokenScores};

/// A loaded n-gram model.
pub struct NgramModel {
    lm: QueryLm,
    description: String,
    /// Split punctuation from words before scoring (see [`super::vocab::punctuation_spans`]).
    split_punctuation: bool,
}

/// An n-gram model as a suite defines it: where it comes from and how it reads text.
#[derive(Debug, Clone)]
pub struct NgramDef {
    pub source: NgramSource,
    /// Split punctuation at the ends of words into tokens of their own before scoring, as the
    /// training text was tokenized (off: whitespace-split words, as KenLM reads them).
    pub split_punctuation: bool,
}

/// Where an n-gram model comes from.
#[derive(Debug, Clone)]
pub enum NgramSource {
    Arpa(PathBuf),
    Train { text: PathBuf, options: TrainOptions, specials: SpecialSymbols },
}

impl NgramModel {
    /// What an n-gram model can do, known before it loads.
    pub const CAPABILITIES: &'static [Capability] = &[Capability::ScoreTokens, Capability::Generate];

    /// Loads an ARPA file (plain or gzip), or a binary n-gram file (`lmgauge ngram build`),
    /// told apart by their first bytes.
    pub fn from_arpa(path: &Path) -> Result<NgramModel, NgramError> {
        let lm = open_query_lm(path)?;
        let description = format!(
            "{}-gram back-off LM from {} ({} words)",
            lm.order(),
            path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            lm.vocab_size()
        );
        Ok(NgramModel { lm, description, split_punctuation: false })
    }

    /// Loads the model, training it first unless `cache_dir` already holds the same training.
    pub fn load(source: &NgramSource, cache_dir: &Path) -> Result<NgramModel, NgramError> {
        match source {
            NgramSource::Arpa(path) => Self::from_arpa(path),
            NgramSource::Train { text, options, specials } => {
                let arpa = cached_arpa_path(text, options, *specials, cache_dir)?;
                // The ARPA file is what users read and take elsewhere; the binary beside it is
                // what later runs load, in milliseconds.
                let binary = arpa.with_extension("lmgauge-ngram");
                if !binary.exists() {
                    std::fs::create_dir_all(cache_dir).map_err(|e| NgramError::io(cache_dir, e))?;
                    let model = if arpa.exists() {
                        read_arpa_file(&arpa)?
                    } else {
                        let corpus = Corpus::read(text, *specials)?;
                        let (model, _) = estimate(&corpus, options)?;
                        write_arpa_file(&model, &arpa)?;
                        model
                    };
                    QueryLm::new(&model).write_binary(&binary)?;
                }
                let mut m = Self::from_arpa(&binary)?;
                m.description = format!(
                    "{}-gram interpolated modified Kneser-Ney (KenLM-compatible) trained on {}",
                    options.order,
                    text.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
                );
                Ok(m)
            }
        }
    }

    pub fn query(&self) -> &QueryLm {
        &self.lm
    }

    /// Loads the model a suite defines.
    pub fn from_def(def: &NgramDef, cache_dir: &Path) -> Result<NgramModel, NgramError> {
        let mut m = Self::load(&def.source, cache_dir)?;
        if def.split_punctuation {
            m.split_punctuation = true;
            m.description.push_str("; punctuation split from words before scoring");
        }
        Ok(m)
    }

    /// The tokens of one line: whitespace-split words, or with punctuation split off.
    fn token_spans(&self, line: &str) -> Vec<(usize, usize)> {
        if self.split_punctuation { super::vocab::punctuation_spans(line) } else { word_spans(line) }
    }
}

/// The query tables of an ARPA or binary n-gram file.
pub fn open_query_lm(path: &Path) -> Result<QueryLm, NgramError> {
    use std::io::Read;
    let mut magic = [0u8; 8];
    let file = std::fs::File::open(path).map_err(|e| NgramError::io(path, e))?;
    if file.take(8).read_exact(&mut magic).is_ok() && &magic == super::image::MAGIC {
        return QueryLm::open_binary(path);
    }
    Ok(QueryLm::new(&read_arpa_file(path)?))
}

/// The cache file of a trained model: named by a hash of the training text and options, so a
/// changed corpus or setting trains afresh and an unchanged one is never trained twice.
pub fn cached_arpa_path(
    text: &Path,
    options: &TrainOptions,
    specials: SpecialSymbols,
    dir: &Path,
) -> Result<PathBuf, NgramError> {
    let bytes = std::fs::read(text).map_err(|e| NgramError::io(text, e))?;
    let mut h = Sha256::new();
    h.update(&bytes);
    h.update(format!("{options:?}{specials:?}").as_bytes());
    let digest = hex::encode(h.finalize());
    Ok(dir.join(format!("kn{}-{}.arpa", options.order, &digest[..16])))
}

impl LanguageModel for NgramModel {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn token_scorer(&self) -> Option<&dyn TokenScorer> {
        Some(self)
    }

    fn generator(&self) -> Option<&dyn Generator> {
        Some(self)
    }
}

impl Generator for NgramModel {
    /// Continues each prompt word by word from the back-off distribution (`<s>`, `<unk>` never
    /// drawn): the prompt's words are the context, `</s>` ends the text, words are joined by
    /// single spaces (a leading one included, as a continuation).
    fn generate(&self, prompts: &[&str], params: &GenParams) -> Result<Vec<Generation>, ModelError> {
        use rayon::prelude::*;
        Ok(prompts
            .par_iter()
            .enumerate()
            .map(|(index, prompt)| {
                let mut rng = params.rng(index);
                let mut ctx = self.lm.begin();
                for (a, b) in self.token_spans(prompt) {
                    self.lm.feed(&mut ctx, &prompt[a..b]);
                }
                let (mut text, mut ids) = (String::new(), Vec::new());
                let mut finish = Finish::Length;
                while ids.len() < params.max_new_tokens {
                    let mut dist = self.lm.next_logprobs(&ctx);
                    if ids.len() < params.min_new_tokens {
                        dist[self.lm.eos() as usize] = f32::NEG_INFINITY;
                    }
                    let next = generate::choose(&dist, params, &mut rng) as u32;
                    ids.push(next);
                    if next == self.lm.eos() {
                        finish = Finish::EndOfText;
                        break;
                    }
                    text.push(' ');
                    text.push_str(self.lm.advance_id(&mut ctx, next));
                    if let Some(cut) = generate::stop_at(&text, &params.stop) {
                        text.truncate(cut);
                        finish = Finish::Stop;
                        break;
                    }
                }
                Generation { text, token_ids: ids, tokens: 0, finish }
            })
            .map(|mut g| {
                g.tokens = g.token_ids.len();
                g
            })
            .collect())
    }
}

impl TokenScorer for NgramModel {
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError> {
        let mut out = TokenScores { bytes: text.len(), single_precision: true, ..Default::default() };
        let mut scores: Vec<TokenScore> = Vec::new();
        let mut offset = 0;
        let mut lines = text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let last = lines.peek().is_none();
            if last && line.is_empty() && offset > 0 {
                break; // text ends with a newline: no further sentence
            }
            scores.clear();
            let spans = self.token_spans(line);
            if self.split_punctuation {
                let tokens: Vec<&str> = spans.iter().map(|&(a, b)| &line[a..b]).collect();
                self.lm.score_sentence(&tokens.join(" "), &mut scores);
            } else {
                self.lm.score_sentence(line, &mut scores);
            }
            let newline_end = if last { offset + line.len() } else { offset + line.len() + 1 };
            for (i, s) in scores.iter().enumerate() {
                out.logprobs.push(s.log10_prob as f64 * std::f64::consts::LN_10);
                out.oov += s.oov as usize;
                out.spans.push(match spans.get(i) {
                    Some(&(a, b)) => (offset + a, offset + b),
                    None => (offset + line.len(), newline_end),
                });
            }
            offset = newline_end;
        }
        Ok(out)
    }
}
