//! Causal perplexity: texts → windows (rolling or sliding) → batches by token budget, longest
//! first → one forward pass per batch → the log-probability of each scored token, gathered
//! through a log-softmax over the scored rows only.

use std::sync::Mutex;

use tch::{Device, Tensor};

use super::attention::Attend;
use super::decode::{scoring_positions, KvCache};
use crate::models::neural::hf::{Encoded, TextTokenizer};
use crate::models::neural::windows::{self, Window};
use crate::models::neural::{NeuralError, NeuralOptions};
use crate::models::generate::{GenParams, Generation};
use crate::models::{Capabilities, LanguageModel, ModelError, TokenScores};

/// A causal network: final hidden states for token ids at given positions under a mask, with
/// or without a key/value cache, and the output matrix applied to chosen rows.
pub trait CausalNet: Send {
    /// Final hidden states `[batch, seq, d]` (see `Gpt2::forward`, `Llama::forward`).
    fn forward_cached(&self, input: &Tensor, positions: &Tensor, attend: &Attend, cache: &mut KvCache) -> Result<Tensor, NeuralError>;
    /// Logits `[…, vocab]` of final hidden states `[…, d]`.
    fn head(&self, hidden: &Tensor) -> Tensor;
    /// Logits `[n, vocab]` at the flat positions `rows` (`[n]`, indices into batch × seq) of
    /// right-padded `input` `[batch, seq]`: the output matrix is applied to those rows only, not
    /// to every position of the batch.
    fn scored_logits(&self, input: &Tensor, rows: &Tensor) -> Result<Tensor, NeuralError>;
    /// Positions the model was trained on.
    fn context(&self) -> usize;
    fn vocab(&self) -> usize;
    fn summary(&self) -> &str;
}

/// The networks have the same entry points; the trait forwards to them. `reference` marks one
/// with a second implementation to compare with (`reference_logits`, GPT-2's rust-bert forward).
macro_rules! causal_net {
    ($ty:ty $(, $reference:ident)?) => {
        impl CausalNet for $ty {
            fn forward_cached(&self, input: &Tensor, positions: &Tensor, attend: &Attend, cache: &mut KvCache) -> Result<Tensor, NeuralError> {
                <$ty>::forward(self, input, positions, attend, Some(cache))
            }
            fn head(&self, hidden: &Tensor) -> Tensor {
                <$ty>::head(self, hidden)
            }
            fn scored_logits(&self, input: &Tensor, rows: &Tensor) -> Result<Tensor, NeuralError> {
                $(
                    let _ = stringify!($reference);
                    if let Some(logits) = self.reference_logits(input)? {
                        let vocab = logits.size()[2];
                        return Ok(logits.view([-1, vocab]).index_select(0, rows));
                    }
                )?
                let positions = scoring_positions(input)?;
                let states = <$ty>::forward(self, input, &positions, &Attend::Causal, None)?;
                let width = states.size()[2];
                Ok(self.head(&states.view([-1, width]).index_select(0, rows)))
            }
            fn context(&self) -> usize {
                self.context
            }
            fn vocab(&self) -> usize {
                self.vocab
            }
            fn summary(&self) -> &str {
                &self.summary
            }
        }
    };
}
causal_net!(super::gpt2::Gpt2, reference);
causal_net!(super::llama::Llama);
causal_net!(super::gpt_neo::GptNeo);

pub struct CausalModel {
    net: Mutex<Box<dyn CausalNet>>,
    tokenizer: TextTokenizer,
    device: Device,
    max_length: usize,
    stride: Option<usize>,
    batch_tokens: usize,
    description: String,
}

impl CausalModel {
    pub fn new(net: Box<dyn CausalNet>, tokenizer: TextTokenizer, options: &NeuralOptions, device: Device, where_: String) -> Result<Self, NeuralError> {
        let max_length = options.max_length.unwrap_or(net.context());
        if max_length > net.context() {
            return Err(NeuralError::Options(format!("max_length {max_length} exceeds the model's context of {} tokens", net.context())));
        }
        if let Some(s) = options.stride.filter(|&s| s > max_length) {
            // The guide's loop would silently skip the tokens between windows.
            return Err(NeuralError::Options(format!("stride {s} exceeds max_length {max_length}: tokens between windows would go unscored")));
        }
        if tokenizer.vocab_size() > net.vocab() {
            return Err(NeuralError::file(&tokenizer.source, format!("tokenizer has {} tokens but the model's vocabulary has {}", tokenizer.vocab_size(), net.vocab())));
        }
        if options.stride.is_none() && tokenizer.prefix().is_none() {
            return Err(NeuralError::file(&tokenizer.source, "no beginning- or end-of-text token to start rolling windows with (set bos_token or eos_token, or use a stride)"));
        }
        let policy = match options.stride {
            None => format!("lm-evaluation-harness rolling windows of {max_length} tokens"),
            Some(s) => format!("sliding windows of {max_length} tokens, stride {s}"),
        };
        let description = format!("{}; {policy}; {where_}", net.summary());
        Ok(CausalModel { net: Mutex::new(net), tokenizer, device, max_length, stride: options.stride, batch_tokens: options.batch_tokens, description })
    }

    fn windows(&self, enc: &Encoded) -> Vec<Window> {
        match self.stride {
            None => windows::rolling(&enc.ids, self.tokenizer.prefix().expect("checked at load") as i64, self.max_length),
            Some(stride) => windows::sliding(&enc.ids, self.max_length, stride),
        }
    }

    fn score(&self, texts: &[&str]) -> Result<Vec<TokenScores>, NeuralError> {
        let encoded: Vec<Encoded> = texts.iter().map(|t| self.tokenizer.encode(t)).collect::<Result<_, _>>()?;
        let mut all: Vec<(usize, Window)> = Vec::new();
        for (i, enc) in encoded.iter().enumerate() {
            all.extend(self.windows(enc).into_iter().map(|w| (i, w)));
        }
        let mut logprobs: Vec<Vec<f64>> = encoded.iter().map(|e| vec![f64::NAN; e.ids.len()]).collect();
        let lengths: Vec<usize> = all.iter().map(|(_, w)| w.input.len()).collect();
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        for batch in windows::batches(&lengths, self.batch_tokens) {
            let width = batch.iter().map(|&b| lengths[b]).max().unwrap_or(0);
            let mut flat = Vec::with_capacity(batch.len() * width);
            let (mut rows, mut targets) = (Vec::new(), Vec::new());
            for (r, &b) in batch.iter().enumerate() {
                let (text, w) = &all[b];
                flat.extend_from_slice(&w.input);
                flat.resize((r + 1) * width, 0);
                for (j, t) in w.targets.clone().enumerate() {
                    rows.push((r * width + w.first_pos + j) as i64);
                    targets.push(encoded[*text].ids[t]);
                }
            }
            let values = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
                let input = Tensor::from_slice(&flat).view([batch.len() as i64, width as i64]).to_device(self.device);
                let picked = net.scored_logits(&input, &Tensor::from_slice(&rows).to_device(self.device))?;
                super::host_f32(&super::target_logprobs(&picked, &Tensor::from_slice(&targets).to_device(self.device)))
            })?;
            let mut k = 0;
            for &b in &batch {
                let (text, w) = &all[b];
                for t in w.targets.clone() {
                    logprobs[*text][t] = values[k] as f64;
                    k += 1;
                }
            }
        }
        Ok(encoded
            .iter()
            .zip(logprobs)
            .zip(texts)
            .map(|((enc, lps), text)| {
                // Tokens no window scored (the sliding policy's first token) are left out.
                let (logprobs, spans) = lps.iter().zip(&enc.spans).filter(|(lp, _)| !lp.is_nan()).map(|(lp, s)| (*lp, *s)).unzip();
                TokenScores { logprobs, spans, bytes: text.len(), oov: 0, pseudo: false }
            })
            .collect())
    }
}

impl LanguageModel for CausalModel {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { score_tokens: true, generate: true, ..Capabilities::default() }
    }

    fn generate(&self, prompts: &[&str], params: &GenParams) -> Result<Vec<Generation>, ModelError> {
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        Ok(super::decode::generate(net.as_ref(), &self.tokenizer, prompts, params, self.device, self.batch_tokens)?)
    }

    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError> {
        Ok(self.score(&[text])?.pop().unwrap_or_default())
    }

    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(self.score(texts)?)
    }
}
