//! Causal perplexity: texts → windows (rolling or sliding) → rows (short windows packed side by
//! side, each its own sequence) → batches of rows by token budget, longest first → one forward
//! pass per batch → the log-probability of each scored token, gathered through a log-softmax over
//! the scored rows only.

use std::sync::Mutex;

use tch::{Device, Tensor};

use super::attention::Attend;
use super::net::{CausalNet, KvCache};
use crate::models::generate::{GenParams, Generation};
use crate::models::neural::hf::TextTokenizer;
use crate::models::neural::scoring::{self, Policy};
use crate::models::neural::windows::{self, Window};
use crate::models::neural::{NeuralError, NeuralOptions};
use crate::models::{
    Generator, LanguageModel, ModelError, NextTokenDistributions, TokenScorer, TokenScores, TokenWindow,
};

pub struct CausalModel {
    net: Mutex<Box<dyn CausalNet>>,
    tokenizer: TextTokenizer,
    device: Device,
    policy: Policy,
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
        let policy = Policy::new(&tokenizer, options, net.context(), net.vocab())?;
        let description = format!("{}; {}; {where_}", net.summary(), policy.describe());
        Ok(CausalModel {
            net: Mutex::new(net),
            tokenizer,
            device,
            policy,
            batch_tokens: options.batch_tokens,
            description,
        })
    }

    fn score(&self, texts: &[&str]) -> Result<Vec<TokenScores>, NeuralError> {
        scoring::score_texts(&self.tokenizer, &self.policy, texts, &|ids, all| self.run_windows(ids, all))
    }

    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, NeuralError> {
        scoring::score_continuations(&self.tokenizer, &self.policy, requests, &|ids, all| self.run_windows(ids, all))
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

    fn distributions(&self) -> Option<&dyn NextTokenDistributions> {
        Some(self)
    }
}

impl NextTokenDistributions for CausalModel {
    fn vocabulary(&self) -> usize {
        self.net.lock().unwrap_or_else(|p| p.into_inner()).vocab()
    }

    fn token_windows(&self, text: &str) -> Result<Vec<TokenWindow>, ModelError> {
        Ok(scoring::token_windows(&self.tokenizer, &self.policy, text)?)
    }

    fn window_logits(&self, window: &TokenWindow) -> Result<Vec<f32>, ModelError> {
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        let n = window.targets.len() as i64;
        let logits = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
            let len = window.input.len() as i64;
            let input = Tensor::from_slice(&window.input).view([1, len]).to_device(self.device);
            let positions = Tensor::arange(len, (tch::Kind::Int64, self.device)).view([1, len]);
            let hidden = net.forward_cached(&input, &positions, &Attend::Causal, &mut KvCache::default())?;
            super::host_f32(&net.head(&hidden.narrow(1, window.first as i64, n)).reshape([-1]))
        })?;
        Ok(logits)
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
