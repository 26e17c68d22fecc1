//! GGUF files computed with their quantized weights, as llama.cpp computes them, in plain Rust:
//! no libtorch, no dequantized copy of the weights (the file stays mapped), 8-bit activations in
//! every matrix product, an f16 key/value cache. This is the default for GGUF files
//! (`compute: quantized`); `compute: f32` dequantizes them into the libtorch network instead,
//! for parity with transformers.
//!
//! Texts are read exactly as the libtorch path reads them ([`super::scoring`]); each window runs
//! as one sequence from an empty cache, windows in parallel; generation decodes one token per
//! step against the cache, prompts in parallel, each with its own seeded random stream.

mod blocks;
mod decoder;
mod kquants;
mod matmul;
mod simd;

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use super::gguf::{self, Gguf};
use super::hf::TextTokenizer;
use super::scoring::{self, Policy};
use super::windows::Window;
use super::{DeviceChoice, Dtype, NeuralError, NeuralOptions};
use crate::models::generate::{self, Finish, GenParams, Generation};
use crate::models::{
    Generator, LanguageModel, ModelError, NextTokenDistributions, TokenScorer, TokenScores, TokenWindow,
};

pub use matmul::COMPUTE_TYPES;

/// The instruction set quantized compute uses in this process (`portable`, `avx2` or
/// `avx-vnni`): the CPU's best, or `portable` when `LMGAUGE_NO_SIMD` is set.
pub fn kernel_level() -> &'static str {
    match *matmul::LEVEL {
        simd::Level::Portable => "portable",
        simd::Level::Avx2 => "avx2",
        simd::Level::Vnni => "avx-vnni",
    }
}

/// The `general.architecture` values quantized compute runs.
pub const ARCHITECTURES: &[&str] = &["llama", "qwen2", "gemma3"];

/// Hidden rows whose logits are computed at once: bounds the `rows × vocabulary` buffer.
const LOGIT_ROWS: usize = 64;

pub struct QuantizedModel {
    net: decoder::QuantDecoder,
    tokenizer: TextTokenizer,
    policy: Policy,
    description: String,
}

/// Loads a GGUF file for quantized compute on the CPU.
pub fn load(path: &Path, options: &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    if let DeviceChoice::Cuda(_) = options.device {
        return Err(NeuralError::Options(format!(
            "quantized compute runs on the CPU, not {}; set compute: f32 to run the dequantized network on CUDA",
            options.device
        )));
    }
    if options.dtype != Dtype::F32 {
        return Err(NeuralError::Options(format!(
            "dtype {} applies to compute: f32; quantized compute keeps the file's own types",
            options.dtype
        )));
    }
    let file = Gguf::open(path)?;
    let arch = file.require_str("general.architecture")?.to_owned();
    if !ARCHITECTURES.contains(&arch.as_str()) {
        return Err(NeuralError::file(
            path,
            format!(
                "general.architecture {arch:?} is not supported by quantized compute (supported: {}; compute: f32 runs the architectures of lmgauge's libtorch networks)",
                ARCHITECTURES.join(", ")
            ),
        ));
    }
    let tokenizer = gguf::tokenizer::from_gguf(&file)?;
    let net = decoder::QuantDecoder::load(file)?;
    let policy = Policy::new(&tokenizer, options, net.config.context, net.config.vocab)?;
    let types: std::collections::BTreeSet<&str> =
        net.file().tensors.iter().filter(|t| t.dims.len() == 2).map(|t| t.ggml_type.name()).collect();
    let description = format!(
        "{}; quantized compute as llama.cpp ({} weights, 8-bit activations, f16 key/value cache); {}; cpu",
        net.config.summary(net.parameters()),
        types.into_iter().collect::<Vec<_>>().join("/"),
        policy.describe()
    );
    Ok(Arc::new(QuantizedModel { net, tokenizer, policy, description }))
}

impl QuantizedModel {
    fn run_windows(&self, ids: &[&[i64]], all: &[(usize, Window)]) -> Result<Vec<Vec<Option<f64>>>, NeuralError> {
        let scored: Vec<Vec<f64>> =
            in_pool(|| all.par_iter().map(|(text, w)| self.run_window(ids[*text], w)).collect::<Result<_, _>>())?;
        let mut logprobs: Vec<Vec<Option<f64>>> = ids.iter().map(|e| vec![None; e.len()]).collect();
        for ((text, w), values) in all.iter().zip(scored) {
            for (t, v) in w.targets.clone().zip(values) {
                logprobs[*text][t] = Some(v);
            }
        }
        Ok(logprobs)
    }

    /// The log-probability of each of the window's targets.
    fn run_window(&self, ids: &[i64], w: &Window) -> Result<Vec<f64>, NeuralError> {
        let targets: Vec<usize> = w.targets.clone().map(|t| ids[t] as usize).collect();
        let mut out = Vec::with_capacity(targets.len());
        self.window_rows(&w.input, w.first_pos, targets.len(), &mut |r, logits| {
            let rows = logits.chunks_exact(self.net.config.vocab);
            out.extend(rows.zip(&targets[r..]).map(|(row, &t)| log_softmax_at(row, t)));
        })?;
        Ok(out)
    }

    /// Runs `input` and hands `visit` the logits of the `n` positions from `first`, at most
    /// [`LOGIT_ROWS`] rows at a time, with the index of the first row handed.
    fn window_rows(
        &self,
        input: &[i64],
        first: usize,
        n: usize,
        visit: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<(), NeuralError> {
        let hidden = self.net.forward(&token_ids(input)?, &mut self.net.cache())?;
        let d = self.net.config.hidden;
        for (k, chunk) in hidden[first * d..(first + n) * d].chunks(LOGIT_ROWS * d).enumerate() {
            visit(k * LOGIT_ROWS, &self.net.logits(chunk));
        }
        Ok(())
    }

    fn generate_one(&self, index: usize, prompt: &[i64], params: &GenParams) -> Result<Generation, NeuralError> {
        let mut rng = params.rng(index);
        let mut cache = self.net.cache();
        let mut sequence = token_ids(prompt)?;
        let hidden = self.net.forward(&sequence, &mut cache)?;
        let d = self.net.config.hidden;
        let mut last = hidden[hidden.len() - d..].to_vec();
        let eos = self.tokenizer.eos;
        let (mut ids, mut text, mut finish) = (Vec::new(), String::new(), Finish::Length);
        for step in 0..params.max_new_tokens {
            let mut logits = self.net.logits(&last);
            if let Some(k) = logits.iter().position(|l| l.is_nan() || *l == f32::INFINITY) {
                return Err(NeuralError::Options(format!(
                    "the network gave a non-finite logit ({}) for token {k} at generation step {step} of prompt {}; its weights are broken",
                    logits[k],
                    index + 1
                )));
            }
            if let Some(eos) = eos.filter(|_| step < params.min_new_tokens) {
                logits[eos as usize] = f32::NEG_INFINITY;
            }
            let id = generate::choose(&logits, params, &mut rng) as u32;
            ids.push(id);
            if Some(id) == eos {
                finish = Finish::EndOfText;
                text = self.tokenizer.decode(&ids[..ids.len() - 1])?;
                break;
            }
            text = self.tokenizer.decode(&ids)?;
            if let Some(cut) = generate::stop_at(&text, &params.stop) {
                text.truncate(cut);
                finish = Finish::Stop;
                break;
            }
            if step + 1 == params.max_new_tokens {
                break;
            }
            sequence.push(id);
            let hidden = if params.kv_cache {
                self.net.forward(&[id], &mut cache)?
            } else {
                let all = self.net.forward(&sequence, &mut self.net.cache())?;
                all[all.len() - d..].to_vec()
            };
            last = hidden;
        }
        Ok(Generation { tokens: ids.len(), text, token_ids: ids, finish })
    }
}

/// Runs `f` on one of rayon's threads. A parallel loop of one item runs on the calling thread,
/// and from outside the pool every matrix product inside it would then hand its work to the pool
/// and sleep until it is done: a futex wait and wake per product, hundreds per generated token.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

fn token_ids(ids: &[i64]) -> Result<Vec<u32>, NeuralError> {
    ids.iter()
        .map(|&i| u32::try_from(i).map_err(|_| NeuralError::Options(format!("token id {i} is not a vocabulary index"))))
        .collect()
}

/// `log softmax(row)[target]`, the exponentials summed in f64.
fn log_softmax_at(row: &[f32], target: usize) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
    f64::from(row[target] - max) - sum.ln()
}

impl LanguageModel for QuantizedModel {
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

impl NextTokenDistributions for QuantizedModel {
    fn vocabulary(&self) -> usize {
        self.net.config.vocab
    }

    fn token_windows(&self, text: &str) -> Result<Vec<TokenWindow>, ModelError> {
        Ok(scoring::token_windows(&self.tokenizer, &self.policy, text)?)
    }

    fn window_logits(&self, window: &TokenWindow) -> Result<Vec<f32>, ModelError> {
        let mut out = Vec::with_capacity(window.targets.len() * self.net.config.vocab);
        in_pool(|| {
            self.window_rows(&window.input, window.first, window.targets.len(), &mut |_, rows| {
                out.extend_from_slice(rows)
            })
        })?;
        Ok(out)
    }
}

impl TokenScorer for QuantizedModel {
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError> {
        Ok(self.score_batch(&[text])?.pop().unwrap_or_default())
    }

    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(scoring::score_texts(&self.tokenizer, &self.policy, texts, &|ids, all| self.run_windows(ids, all))?)
    }

    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(scoring::score_continuations(&self.tokenizer, &self.policy, requests, &|ids, all| {
            self.run_windows(ids, all)
        })?)
    }
}

impl Generator for QuantizedModel {
    fn generate(&self, prompts: &[&str], params: &GenParams) -> Result<Vec<Generation>, ModelError> {
        let encoded = scoring::encode_prompts(&self.tokenizer, prompts, params, self.net.config.context)?;
        let out: Result<Vec<Generation>, NeuralError> =
            in_pool(|| encoded.par_iter().enumerate().map(|(i, p)| self.generate_one(i, p, params)).collect());
        Ok(out?)
    }
}
