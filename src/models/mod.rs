//! Language models behind one capability-based trait.
//!
//! A suite names models by kind; each kind declares what it can do ([`Capabilities`]) before any
//! weights load, so the validator can refuse a task a model cannot serve. Every adapter that
//! scores text reports natural-log probabilities per token together with the UTF-8 byte span each
//! token covers and the bytes it scored, so word- and byte-level perplexities compare across
//! tokenizers.

pub mod generate;
pub mod neural;
pub mod ngram;

use std::fmt;

/// What a model family can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Per-token log-probabilities of text (causal and n-gram models).
    pub score_tokens: bool,
    /// Pseudo-log-likelihood by masking (masked LMs).
    pub pseudo_log_likelihood: bool,
    /// Text generation.
    pub generate: bool,
    /// A scalar reward for a (prompt, response) pair.
    pub reward: bool,
    /// Outputs already written to a file (system outputs scored against references).
    pub stored_outputs: bool,
}

/// One capability, as tasks ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    ScoreTokens,
    PseudoLogLikelihood,
    Generate,
    Reward,
    StoredOutputs,
}

impl Capabilities {
    pub fn has(&self, c: Capability) -> bool {
        match c {
            Capability::ScoreTokens => self.score_tokens,
            Capability::PseudoLogLikelihood => self.pseudo_log_likelihood,
            Capability::Generate => self.generate,
            Capability::Reward => self.reward,
            Capability::StoredOutputs => self.stored_outputs,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::ScoreTokens => "token scoring",
            Capability::PseudoLogLikelihood => "pseudo-log-likelihood",
            Capability::Generate => "generation",
            Capability::Reward => "reward scoring",
            Capability::StoredOutputs => "stored outputs (kind: outputs)",
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
}

impl TokenScores {
    pub fn nll(&self) -> f64 {
        -self.logprobs.iter().sum::<f64>()
    }

    /// The first token whose log-probability is not a finite number (NaN or ±infinity, as a
    /// network with broken weights computes): such a score must stop the job, never be summed
    /// or dropped.
    pub fn first_non_finite(&self) -> Option<NonFinite> {
        let token = self.logprobs.iter().position(|lp| !lp.is_finite())?;
        Some(NonFinite { token, value: self.logprobs[token], span: self.spans.get(token).copied() })
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

/// A loaded model.
pub trait LanguageModel: Send + Sync {
    /// One line saying what this model is, for reports.
    fn describe(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// Per-token log-probabilities of each text, scored independently.
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError>;

    /// A scalar reward for each (prompt, response) pair (reward models only).
    fn reward_batch(&self, _pairs: &[(&str, &str)]) -> Result<Vec<f64>, ModelError> {
        Err(ModelError::Unsupported { model: self.describe(), capability: Capability::Reward })
    }

    /// A continuation of each prompt (models with the `generate` capability).
    fn generate(
        &self,
        _prompts: &[&str],
        _params: &generate::GenParams,
    ) -> Result<Vec<generate::Generation>, ModelError> {
        Err(ModelError::Unsupported { model: self.describe(), capability: Capability::Generate })
    }

    /// Scores many texts; neural models batch them, others score them in parallel.
    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        use rayon::prelude::*;
        texts.par_iter().map(|t| self.score_tokens(t)).collect()
    }
}

/// Errors of model adapters.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Ngram(#[from] ngram::NgramError),
    #[error(transparent)]
    Neural(#[from] neural::NeuralError),
    #[error("model {model} cannot do {capability}")]
    Unsupported { model: String, capability: Capability },
}
