//! Language models and the verbs they have: one small trait per verb ([`TokenScorer`],
//! [`PseudoLikelihood`], [`Generator`], [`RewardModel`]); a loaded [`LanguageModel`] hands out the
//! ones it implements, and what a model can do follows from that.
//!
//! A suite names models by kind; each kind declares its verbs ([`Capability`]) before any weights
//! load, so the validator can refuse a task a model cannot serve (tests check the declaration
//! against what the loaded model hands out). Every adapter that scores text reports natural-log
//! probabilities per token together with the UTF-8 byte span each token covers and the bytes it
//! scored, so word- and byte-level perplexities compare across tokenizers.

pub mod chat;
pub mod chat_model;
pub mod generate;
pub mod mapped;
pub mod neural;
pub mod ngram;
pub mod prompt;

use std::fmt;

/// One capability, as tasks ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    ScoreTokens,
    PseudoLogLikelihood,
    Generate,
    Reward,
    StoredOutputs,
    NextTokenDistributions,
    TokenEmbeddings,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::ScoreTokens => "token scoring",
            Capability::PseudoLogLikelihood => "pseudo-log-likelihood",
            Capability::Generate => "generation",
            Capability::Reward => "reward scoring",
            Capability::StoredOutputs => "stored outputs (kind: outputs)",
            Capability::NextTokenDistributions => "next-token distributions (a causal LM)",
            Capability::TokenEmbeddings => "token embeddings (an encoder, kind: encoder)",
        })
    }
}

/// Scores of one text: the basis of every perplexity form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenScores {
    /// Natural-log probability of each scored token.
    pub logprobs: Vec<f64>,
    /// Byte range in the text that each token covers (empty for end-of-sentence tokens).
    pub spans: Vec<(usize, usize)>,
    /// UTF-8 bytes of the text that was scored.
    pub bytes: usize,
    /// Tokens the model did not know.
    pub oov: usize,
    /// Pseudo-log-likelihoods (masked LMs): each token predicted from both sides.
    pub pseudo: bool,
    /// Single-precision log10 scores (n-gram models, as KenLM computes them): a sentence's total
    /// ([`TokenScores::sentence_total`]) accumulates them in f32 as KenLM's `Model.score` does.
    pub single_precision: bool,
    /// Tokens of the text were left unscored by design (llama-perplexity's chunks score half of
    /// each): per-word and per-byte rates over the text do not exist.
    pub partial: bool,
}

impl TokenScores {
    pub fn nll(&self) -> f64 {
        -self.logprobs.iter().sum::<f64>()
    }

    /// The text's log-likelihood as its reference tool totals it: KenLM's `Model.score` adds the
    /// single-precision log10 scores in f32, token by token, and its users compare those totals;
    /// near-equal sentences (the same words reordered) compare as they do in KenLM only when
    /// summed the same way. Other models' totals are the f64 sum. Natural log.
    pub fn sentence_total(&self) -> f64 {
        if !self.single_precision {
            return -self.nll();
        }
        // Each value is an f32 log10 score times ln 10 in f64: dividing gives the f32 back exactly.
        let log10 = self.logprobs.iter().fold(0f32, |total, lp| total + (lp / std::f64::consts::LN_10) as f32);
        log10 as f64 * std::f64::consts::LN_10
    }

    /// The first token whose log-probability is not a finite number (NaN or ±infinity, as a
    /// network with broken weights computes): such a score must stop the job, never be summed
    /// or dropped.
    pub fn first_non_finite(&self) -> Option<NonFinite> {
        let token = self.logprobs.iter().position(|lp| !lp.is_finite())?;
        Some(NonFinite { token, value: self.logprobs[token], span: self.spans.get(token).copied() })
    }

    /// The part of the scores of `context + continuation` that belongs to the continuation: the
    /// tokens that end after the context's `context_bytes`, less an empty-span end marker at the
    /// end of the text (see [`TokenScorer::score_continuations`]).
    pub fn continuation(self, context_bytes: usize, continuation_bytes: usize) -> TokenScores {
        let end = context_bytes + continuation_bytes;
        let keep: Vec<bool> = self.spans.iter().map(|&(a, b)| b > context_bytes && !(a == b && b == end)).collect();
        let pick = |v: Vec<(f64, (usize, usize))>| v.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x);
        let (logprobs, spans) = pick(self.logprobs.into_iter().zip(self.spans).collect()).unzip();
        // Unknown words are counted for the whole text: scores do not say which token they were.
        TokenScores { logprobs, spans, bytes: continuation_bytes, oov: self.oov, ..self }
    }

    /// `Ok` when every log-probability is finite, else a message naming the model, the item
    /// and the token position.
    pub fn check_finite(&self, model: &str, item: &str) -> Result<(), String> {
        match self.first_non_finite() {
            None => Ok(()),
            Some(bad) => Err(bad.describe(model, item)),
        }
    }
}

/// A token whose log-probability is not finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFinite {
    /// Position among the scored tokens (0-based).
    pub token: usize,
    pub value: f64,
    /// The bytes of the text the token covers.
    pub span: Option<(usize, usize)>,
}

impl NonFinite {
    pub fn describe(&self, model: &str, item: &str) -> String {
        let bytes = self.span.map(|(a, b)| format!(", bytes {a}..{b}")).unwrap_or_default();
        format!(
            "model {model} gave a non-finite log-probability ({}) to token {} of {item}{bytes}; its weights or configuration are broken (NaN or infinite values)",
            self.value, self.token
        )
    }
}

/// Exact per-token log-probabilities of text (causal and n-gram LMs).
pub trait TokenScorer: Send + Sync {
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError>;

    /// Scores many texts, each independently; neural models batch them, others score them in
    /// parallel.
    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        use rayon::prelude::*;
        texts.par_iter().map(|t| self.score_tokens(t)).collect()
    }

    /// lm-evaluation-harness's `loglikelihood`: the tokens of each continuation scored given its
    /// context. The scores hold the continuation's tokens only; their spans index
    /// `context + continuation`, and `bytes` counts the continuation's.
    ///
    /// By default the whole text is scored and the tokens that end after the context are kept
    /// (a word the context leaves unfinished belongs to the continuation), less an end-of-sentence
    /// token at the very end of the text, which the continuation does not write: right for
    /// models that condition left to right on words (n-gram). Subword models override it to
    /// tokenize context and continuation as the harness does.
    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        let texts: Vec<String> = requests.iter().map(|(c, x)| format!("{c}{x}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = self.score_batch(&refs)?;
        Ok(scores.into_iter().zip(requests).map(|(s, (c, x))| s.continuation(c.len(), x.len())).collect())
    }
}

/// Pseudo-log-likelihoods: each token predicted from both sides with itself masked (masked LMs;
/// Salazar et al., 2020). The scores carry `pseudo: true`.
pub trait PseudoLikelihood: Send + Sync {
    fn pseudo_scores(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError>;

    /// The pseudo-log-likelihoods of each continuation's tokens in `context + continuation`,
    /// the context never masked (the masked LM's form of [`TokenScorer::score_continuations`];
    /// the same layout of scores).
    fn pseudo_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError>;
}

/// Continues prompts.
pub trait Generator: Send + Sync {
    fn generate(&self, prompts: &[&str], params: &generate::GenParams)
    -> Result<Vec<generate::Generation>, ModelError>;
}

/// A scalar reward for each (prompt, response) pair.
pub trait RewardModel: Send + Sync {
    fn rewards(&self, pairs: &[(&str, &str)]) -> Result<Vec<f64>, ModelError>;
}

/// A stretch of a text as a causal model reads it: the token ids it runs from an empty context,
/// and, from position `first` on, the token each position predicts (`targets[r]` at `first + r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenWindow {
    pub input: Vec<i64>,
    pub first: usize,
    pub targets: Vec<i64>,
}

/// The whole next-token distribution at every scored position (causal LMs): what comparing two
/// models position by position needs (KL divergence of a quantized model from its base). The
/// windows follow the model's own window policy, so two models read a text alike exactly when
/// their tokenizers and policies agree, which the caller checks by comparing the windows.
pub trait NextTokenDistributions: Send + Sync {
    /// The width of a row of logits.
    fn vocabulary(&self) -> usize;
    /// The windows `text` is read in.
    fn token_windows(&self, text: &str) -> Result<Vec<TokenWindow>, ModelError>;
    /// The logits of each of the window's predicting positions, `targets.len() × vocabulary`,
    /// row by row.
    fn window_logits(&self, window: &TokenWindow) -> Result<Vec<f32>, ModelError>;
}

/// One text as an encoder reads it: its token ids, `[CLS]` and `[SEP]` included, and one
/// hidden-state row per token (what BERTScore matches).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenEmbeddings {
    pub ids: Vec<i64>,
    /// Whether each token is one of the tokenizer's special tokens (`[CLS]`, `[SEP]`), which
    /// BERTScore matches against but never weighs.
    pub special: Vec<bool>,
    /// Width of a row.
    pub dim: usize,
    /// `ids.len() × dim` values, row by row.
    pub vectors: Vec<f32>,
    /// Whether the text was cut to the model's positions.
    pub truncated: bool,
}

impl TokenEmbeddings {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }
}

/// The hidden states of one layer of an encoder, token by token.
pub trait TokenEmbedder: Send + Sync {
    /// Each text tokenized as the model's tokenizer does with its special tokens (cut to the
    /// model's positions), and run through the encoder.
    fn embed(&self, texts: &[&str]) -> Result<Vec<TokenEmbeddings>, ModelError>;
    /// The token ids of each text, without running the encoder (what idf weights count).
    fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>, ModelError>;
}

/// A loaded model: what it is, and the verbs it has.
pub trait LanguageModel: Send + Sync {
    /// One line saying what this model is, for reports.
    fn describe(&self) -> String;

    fn token_scorer(&self) -> Option<&dyn TokenScorer> {
        None
    }

    fn pseudo_likelihood(&self) -> Option<&dyn PseudoLikelihood> {
        None
    }

    fn generator(&self) -> Option<&dyn Generator> {
        None
    }

    fn reward_model(&self) -> Option<&dyn RewardModel> {
        None
    }

    fn distributions(&self) -> Option<&dyn NextTokenDistributions> {
        None
    }

    fn token_embedder(&self) -> Option<&dyn TokenEmbedder> {
        None
    }

    /// A task's prompt as this model reads it: written as one text (lm-evaluation-harness's
    /// layout without a chat template), or, by a chat model, rendered with its template.
    fn render_prompt(&self, prompt: &prompt::Prompt) -> Result<String, ModelError> {
        Ok(prompt.flat())
    }

    /// Whether prompts are rendered by a chat template.
    fn is_chat(&self) -> bool {
        false
    }
}

impl dyn LanguageModel + '_ {
    /// What the model can do, from the verbs it hands out.
    pub fn capabilities(&self) -> Vec<Capability> {
        let verbs = [
            (Capability::ScoreTokens, self.token_scorer().is_some()),
            (Capability::PseudoLogLikelihood, self.pseudo_likelihood().is_some()),
            (Capability::Generate, self.generator().is_some()),
            (Capability::Reward, self.reward_model().is_some()),
            (Capability::NextTokenDistributions, self.distributions().is_some()),
            (Capability::TokenEmbeddings, self.token_embedder().is_some()),
        ];
        verbs.into_iter().filter(|(_, has)| *has).map(|(c, _)| c).collect()
    }

    /// Per-token scores of each text: exact log-probabilities where the model has them, else
    /// pseudo-log-likelihoods (each score's `pseudo` says which); what perplexity and likelihood
    /// comparison read.
    pub fn likelihoods(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        match (self.token_scorer(), self.pseudo_likelihood()) {
            (Some(s), _) => s.score_batch(texts),
            (None, Some(p)) => p.pseudo_scores(texts),
            (None, None) => Err(self.unsupported(Capability::ScoreTokens)),
        }
    }

    /// Per-token scores of each continuation given its context (see
    /// [`TokenScorer::score_continuations`]): exact where the model has them, else
    /// pseudo-log-likelihoods with the context unmasked.
    pub fn continuation_likelihoods(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        match (self.token_scorer(), self.pseudo_likelihood()) {
            (Some(s), _) => s.score_continuations(requests),
            (None, Some(p)) => p.pseudo_continuations(requests),
            (None, None) => Err(self.unsupported(Capability::ScoreTokens)),
        }
    }

    pub fn generate(
        &self,
        prompts: &[&str],
        params: &generate::GenParams,
    ) -> Result<Vec<generate::Generation>, ModelError> {
        self.generator().ok_or_else(|| self.unsupported(Capability::Generate))?.generate(prompts, params)
    }

    pub fn rewards(&self, pairs: &[(&str, &str)]) -> Result<Vec<f64>, ModelError> {
        self.reward_model().ok_or_else(|| self.unsupported(Capability::Reward))?.rewards(pairs)
    }

    pub fn next_token_distributions(&self) -> Result<&dyn NextTokenDistributions, ModelError> {
        self.distributions().ok_or_else(|| self.unsupported(Capability::NextTokenDistributions))
    }

    fn unsupported(&self, capability: Capability) -> ModelError {
        ModelError::Unsupported { model: self.describe(), capability }
    }
}

/// Errors of model adapters.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Ngram(#[from] ngram::NgramError),
    #[error(transparent)]
    Neural(#[from] neural::NeuralError),
    #[error(transparent)]
    Chat(#[from] chat::ChatError),
    #[error("model {model} cannot do {capability}")]
    Unsupported { model: String, capability: Capability },
}
