//! Causal perplexity: texts → windows (rolling or sliding) → rows (short windows packed side by
//! side, each its own sequence) → batches of rows by token budget, longest first → one forward
//! pass per batch → the log-probability of each scored token, gathered through a log-softmax over
//! the scored rows only.

use std::sync::Mutex;

use tch::{Device, Tensor};

use super::attention::Attend;
use super::net::CausalNet;
use crate::models::generate::{GenParams, Generation};
use crate::models::neural::hf::{Encoded, TextTokenizer};
use crate::models::neural::windows::{self, Window};
use crate::models::neural::{NeuralError, NeuralOptions};
use crate::models::{Generator, LanguageModel, ModelError, TokenScorer, TokenScores};

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
    pub fn new(
        net: Box<dyn CausalNet>,
        tokenizer: TextTokenizer,
        options: &NeuralOptions,
        device: Device,
        where_: String,
    ) -> Result<Self, NeuralError> {
        let max_length = options.max_length.unwrap_or(net.context());
        if max_length > net.context() {
            return Err(NeuralError::Options(format!(
                "max_length {max_length} exceeds the model's context of {} tokens",
                net.context()
            )));
        }
        if let Some(s) = options.stride.filter(|&s| s > max_length) {
            // The guide's loop would silently skip the tokens between windows.
            return Err(NeuralError::Options(format!(
                "stride {s} exceeds max_length {max_length}: tokens between windows would go unscored"
            )));
        }
        if tokenizer.vocab_size() > net.vocab() {
            return Err(NeuralError::file(
                &tokenizer.source,
                format!(
                    "tokenizer has {} tokens but the model's vocabulary has {}",
                    tokenizer.vocab_size(),
                    net.vocab()
                ),
            ));
        }
        if options.stride.is_none() && tokenizer.prefix().is_none() {
            return Err(NeuralError::file(
                &tokenizer.source,
                "no beginning- or end-of-text token to start rolling windows with (set bos_token or eos_token, or use a stride)",
            ));
        }
        let policy = match options.stride {
            None => format!("lm-evaluation-harness rolling windows of {max_length} tokens"),
            Some(s) => format!("sliding windows of {max_length} tokens, stride {s}"),
        };
        let description = format!("{}; {policy}; {where_}", net.summary());
        Ok(CausalModel {
            net: Mutex::new(net),
            tokenizer,
            device,
            max_length,
            stride: options.stride,
            batch_tokens: options.batch_tokens,
            description,
        })
    }

    fn windows(&self, enc: &Encoded) -> Vec<Window> {
        match self.stride {
            None => {
                windows::rolling(&enc.ids, self.tokenizer.prefix().expect("checked at load") as i64, self.max_length)
            }
            Some(stride) => windows::sliding(&enc.ids, self.max_length, stride),
        }
    }

    fn score(&self, texts: &[&str]) -> Result<Vec<TokenScores>, NeuralError> {
        let encoded: Vec<Encoded> = texts.iter().map(|t| self.tokenizer.encode(t)).collect::<Result<_, _>>()?;
        let mut all: Vec<(usize, Window)> = Vec::new();
        for (i, enc) in encoded.iter().enumerate() {
            all.extend(self.windows(enc).into_iter().map(|w| (i, w)));
        }
        let ids: Vec<&[i64]> = encoded.iter().map(|e| e.ids.as_slice()).collect();
        let logprobs = self.run_windows(&ids, &all)?;
        Ok(encoded
            .iter()
            .zip(logprobs)
            .zip(texts)
            .map(|((enc, lps), text)| {
                // Tokens no window scored (the sliding policy's first token) are left out.
                let (logprobs, spans) = lps.iter().zip(&enc.spans).filter_map(|(lp, s)| lp.map(|lp| (lp, *s))).unzip();
                TokenScores { logprobs, spans, bytes: text.len(), ..TokenScores::default() }
            })
            .collect())
    }

    /// lm-evaluation-harness's `HFLM._encode_pair` and `_loglikelihood_tokens`: trailing
    /// whitespace of the context moves to the continuation; the continuation's tokens are those
    /// of `context + continuation` after as many tokens as the context alone encodes to (an empty
    /// context is the start token); the model reads the last `max_length` tokens before each
    /// scored one.
    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, NeuralError> {
        let mut sequences: Vec<Vec<i64>> = Vec::with_capacity(requests.len());
        let mut spans: Vec<Vec<(usize, usize)>> = Vec::with_capacity(requests.len());
        let mut all: Vec<(usize, Window)> = Vec::with_capacity(requests.len());
        for (i, &(context, continuation)) in requests.iter().enumerate() {
            // Python's `str.rstrip()`: Unicode whitespace and the four separators \x1c-\x1f.
            let kept = context.trim_end_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)).len();
            if kept == 0 && !context.is_empty() {
                return Err(NeuralError::Options(format!(
                    "context {context:?} is only whitespace: give an empty context or some text"
                )));
            }
            let whole = self.tokenizer.encode(&format!("{context}{continuation}"))?;
            let context_ids = if context.is_empty() {
                vec![self.tokenizer.prefix().ok_or_else(|| {
                    NeuralError::file(
                        &self.tokenizer.source,
                        "no beginning- or end-of-text token to score a continuation without context",
                    )
                })? as i64]
            } else {
                self.tokenizer.encode(&context[..kept])?.ids
            };
            let skip = if context.is_empty() { 0 } else { context_ids.len() };
            let own = whole.ids.len().saturating_sub(skip);
            if own == 0 || own > self.max_length {
                return Err(NeuralError::Options(format!(
                    "continuation {:?} is {own} tokens after its context; it must be 1 to max_length ({})",
                    continuation, self.max_length
                )));
            }
            let mut seq = context_ids;
            let first = seq.len();
            seq.extend_from_slice(&whole.ids[skip..]);
            let n = seq.len();
            let begin = (n - 1).saturating_sub(self.max_length);
            let input = seq[begin..n - 1].to_vec();
            all.push((i, Window { first_pos: input.len() - own, input, targets: first..n }));
            spans.push(whole.spans[skip..].to_vec());
            sequences.push(seq);
        }
        let ids: Vec<&[i64]> = sequences.iter().map(Vec::as_slice).collect();
        let logprobs = self.run_windows(&ids, &all)?;
        Ok(logprobs
            .into_iter()
            .zip(spans)
            .zip(requests)
            .zip(&all)
            .map(|(((lps, spans), (_, continuation)), (_, w))| TokenScores {
                logprobs: lps[w.targets.clone()].iter().map(|lp| lp.unwrap_or(f64::NAN)).collect(),
                spans,
                bytes: continuation.len(),
                ..TokenScores::default()
            })
            .collect())
    }

    /// Runs the windows over the token sequences they index and returns each sequence's
    /// log-probabilities, `None` where no window scored the token.
    fn run_windows(&self, ids: &[&[i64]], all: &[(usize, Window)]) -> Result<Vec<Vec<Option<f64>>>, NeuralError> {
        // `None` until a window scores the token: "not scored" is never a number, so a NaN the
        // network computes stays a NaN and is caught by the callers' finiteness check.
        let mut logprobs: Vec<Vec<Option<f64>>> = ids.iter().map(|e| vec![None; e.len()]).collect();
        let lengths: Vec<usize> = all.iter().map(|(_, w)| w.input.len()).collect();
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        // Short windows share rows (each attending only within itself) so that the matrix
        // products see as little padding as possible; the longest window sets the row width.
        let rows: Vec<Vec<usize>> = windows::pack(&lengths, lengths.iter().copied().max().unwrap_or(0));
        let row_lengths: Vec<usize> = rows.iter().map(|r| r.iter().map(|&i| lengths[i]).sum()).collect();
        for batch in windows::batches(&row_lengths, self.batch_tokens) {
            let width = batch.iter().map(|&r| row_lengths[r]).max().unwrap_or(0);
            let (mut flat, mut positions) =
                (Vec::with_capacity(batch.len() * width), Vec::with_capacity(batch.len() * width));
            let (mut scored, mut targets, mut segments) = (Vec::new(), Vec::new(), Vec::with_capacity(batch.len()));
            for (r, &row) in batch.iter().enumerate() {
                let mut row_segments = Vec::with_capacity(rows[row].len());
                for &b in &rows[row] {
                    let (text, w) = &all[b];
                    let start = flat.len() - r * width;
                    row_segments.push((start as i64, w.input.len() as i64));
                    flat.extend_from_slice(&w.input);
                    positions.extend(0..w.input.len() as i64);
                    for (j, t) in w.targets.clone().enumerate() {
                        scored.push((r * width + start + w.first_pos + j) as i64);
                        targets.push(ids[*text][t]);
                    }
                }
                flat.resize((r + 1) * width, 0);
                positions.resize((r + 1) * width, 0);
                segments.push(row_segments);
            }
            // One window per row is plain causal attention (padding only ever follows it).
            let attend =
                if segments.iter().any(|s| s.len() > 1) { Attend::Segments(&segments) } else { Attend::Causal };
            let values = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
                let shape = [batch.len() as i64, width as i64];
                let input = Tensor::from_slice(&flat).view(shape).to_device(self.device);
                let positions = Tensor::from_slice(&positions).view(shape).to_device(self.device);
                let scored = Tensor::from_slice(&scored).to_device(self.device);
                super::host_f32(&net.scored_logprobs(
                    &input,
                    &positions,
                    &attend,
                    &scored,
                    &Tensor::from_slice(&targets).to_device(self.device),
                )?)
            })?;
            let mut k = 0;
            for &row in &batch {
                for &b in &rows[row] {
                    let (text, w) = &all[b];
                    for t in w.targets.clone() {
                        logprobs[*text][t] = Some(values[k] as f64);
                        k += 1;
                    }
                }
            }
        }
        Ok(logprobs)
    }
}

impl LanguageModel for CausalModel {
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

impl Generator for CausalModel {
    fn generate(&self, prompts: &[&str], params: &GenParams) -> Result<Vec<Generation>, ModelError> {
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        Ok(super::decode::generate(net.as_ref(), &self.tokenizer, prompts, params, self.device, self.batch_tokens)?)
    }
}

impl TokenScorer for CausalModel {
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError> {
        Ok(self.score(&[text])?.pop().unwrap_or_default())
    }

    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(self.score(texts)?)
    }

    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(CausalModel::score_continuations(self, requests)?)
    }
}
