//! What a causal model scores, independent of how its network runs: the window policy checked
//! against the model's context, texts cut into windows (lm-evaluation-harness rolling windows, or
//! sliding windows with a stride), continuation requests laid out as lm-evaluation-harness lays
//! them, prompts encoded for generation, and the log-probabilities of the windows gathered back
//! into each text's token scores.
//!
//! Both causal back ends — libtorch networks (`enabled::causal`) and quantized GGUF compute
//! (`quantized`) — hand their own `run` function to these, so the two read text identically.

use super::hf::{Encoded, TextTokenizer};
use super::windows::{self, Window};
use super::{NeuralError, NeuralOptions, Windows};
use crate::models::generate::GenParams;
use crate::models::{TokenScores, TokenWindow};

/// llama-perplexity's default context (`-c 512`): the chunk length of its policy unless
/// `max_length` says otherwise.
pub const LLAMA_PERPLEXITY_CTX: usize = 512;

/// Runs windows over the token sequences they index; returns each sequence's log-probabilities,
/// `None` where no window scored the token.
pub type RunWindows<'a> = dyn Fn(&[&[i64]], &[(usize, Window)]) -> Result<Vec<Vec<Option<f64>>>, NeuralError> + 'a;

/// The window policy of one model.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_length: usize,
    pub stride: Option<usize>,
    pub prefix: Option<u32>,
    /// llama-perplexity's chunks, with the beginning-of-text token first when the tokenizer
    /// adds one (`Some(None)`: chunks without it).
    pub chunks: Option<Option<u32>>,
}

impl Policy {
    /// Checks the options against the model's context and vocabulary.
    pub fn new(
        tokenizer: &TextTokenizer,
        options: &NeuralOptions,
        context: usize,
        vocab: usize,
    ) -> Result<Self, NeuralError> {
        let chunked = options.windows == Windows::LlamaPerplexity;
        // llama-perplexity's default context (-c 512), not the model's.
        let max_length =
            options.max_length.unwrap_or(if chunked { LLAMA_PERPLEXITY_CTX.min(context) } else { context });
        if max_length > context {
            return Err(NeuralError::Options(format!(
                "max_length {max_length} exceeds the model's context of {context} tokens"
            )));
        }
        if let Some(s) = options.stride.filter(|&s| s > max_length) {
            // The guide's loop would silently skip the tokens between windows.
            return Err(NeuralError::Options(format!(
                "stride {s} exceeds max_length {max_length}: tokens between windows would go unscored"
            )));
        }
        if tokenizer.vocab_size() > vocab {
            return Err(NeuralError::file(
                &tokenizer.source,
                format!("tokenizer has {} tokens but the model's vocabulary has {vocab}", tokenizer.vocab_size()),
            ));
        }
        if chunked {
            if options.stride.is_some() {
                return Err(NeuralError::Options(
                    "stride sets sliding windows; the llama-perplexity policy has chunks of max_length".into(),
                ));
            }
            if max_length < 2 {
                return Err(NeuralError::Options("llama-perplexity chunks need max_length of at least 2".into()));
            }
            let bos = match (tokenizer.add_bos, tokenizer.bos) {
                (false, _) => None,
                (true, Some(bos)) => Some(bos),
                (true, None) => {
                    return Err(NeuralError::file(
                        &tokenizer.source,
                        "the tokenizer adds a beginning-of-text token but names none",
                    ));
                }
            };
            return Ok(Policy { max_length, stride: None, prefix: tokenizer.prefix(), chunks: Some(bos) });
        }
        if options.stride.is_none() && tokenizer.prefix().is_none() {
            return Err(NeuralError::file(
                &tokenizer.source,
                "no beginning- or end-of-text token to start rolling windows with (set bos_token or eos_token, or use a stride)",
            ));
        }
        Ok(Policy { max_length, stride: options.stride, prefix: tokenizer.prefix(), chunks: None })
    }

    pub fn describe(&self) -> String {
        if let Some(bos) = self.chunks {
            let first = if bos.is_some() { ", the beginning-of-text token first" } else { "" };
            return format!(
                "llama-perplexity chunks of {} tokens{first}, each scoring its second half",
                self.max_length
            );
        }
        match self.stride {
            None => format!("lm-evaluation-harness rolling windows of {} tokens", self.max_length),
            Some(s) => format!("sliding windows of {} tokens, stride {s}", self.max_length),
        }
    }

    fn windows(&self, enc: &Encoded) -> Vec<Window> {
        if let Some(bos) = self.chunks {
            let Some(bos) = bos else { return windows::llama_chunks(&enc.ids, self.max_length, None) };
            // The stream starts with the token, and every chunk's first token becomes it.
            let stream: Vec<i64> = std::iter::once(i64::from(bos)).chain(enc.ids.iter().copied()).collect();
            let mut out = windows::llama_chunks(&stream, self.max_length, Some(i64::from(bos)));
            for w in &mut out {
                w.targets = w.targets.start - 1..w.targets.end - 1;
            }
            return out;
        }
        match self.stride {
            None => windows::rolling(&enc.ids, self.prefix.expect("checked in Policy::new") as i64, self.max_length),
            Some(stride) => windows::sliding(&enc.ids, self.max_length, stride),
        }
    }
}

/// The policy's windows over one encoded text; a text shorter than one llama-perplexity chunk is
/// an error (`index`: the text's 0-based place in its batch).
fn windows_of(policy: &Policy, enc: &Encoded, index: usize) -> Result<Vec<Window>, NeuralError> {
    let windows = policy.windows(enc);
    if windows.is_empty() && policy.chunks.is_some() {
        return Err(NeuralError::Options(format!(
            "text {} has {} tokens, fewer than one llama-perplexity chunk of {} (score whole files with unit: file, or lower max_length)",
            index + 1,
            enc.ids.len() + usize::from(matches!(policy.chunks, Some(Some(_)))),
            policy.max_length
        )));
    }
    Ok(windows)
}

/// The windows `text` is read in, with the token each scored position predicts: what a model
/// hands out for comparing next-token distributions.
pub fn token_windows(tokenizer: &TextTokenizer, policy: &Policy, text: &str) -> Result<Vec<TokenWindow>, NeuralError> {
    let enc = tokenizer.encode(text)?;
    Ok(windows_of(policy, &enc, 0)?
        .into_iter()
        .map(|w| TokenWindow { targets: enc.ids[w.targets].to_vec(), first: w.first_pos, input: w.input })
        .collect())
}

/// Every token of each text, through the policy's windows.
pub fn score_texts(
    tokenizer: &TextTokenizer,
    policy: &Policy,
    texts: &[&str],
    run: &RunWindows,
) -> Result<Vec<TokenScores>, NeuralError> {
    let encoded: Vec<Encoded> = texts.iter().map(|t| tokenizer.encode(t)).collect::<Result<_, _>>()?;
    let mut all: Vec<(usize, Window)> = Vec::new();
    for (i, enc) in encoded.iter().enumerate() {
        all.extend(windows_of(policy, enc, i)?.into_iter().map(|w| (i, w)));
    }
    let ids: Vec<&[i64]> = encoded.iter().map(|e| e.ids.as_slice()).collect();
    let logprobs = run(&ids, &all)?;
    Ok(encoded
        .iter()
        .zip(logprobs)
        .zip(texts)
        .map(|((enc, lps), text)| {
            // Tokens no window scored (the sliding policy's first token) are left out.
            let (logprobs, spans) = lps.iter().zip(&enc.spans).filter_map(|(lp, s)| lp.map(|lp| (lp, *s))).unzip();
            TokenScores {
                logprobs,
                spans,
                bytes: text.len(),
                partial: policy.chunks.is_some(),
                ..TokenScores::default()
            }
        })
        .collect())
}

/// lm-evaluation-harness's `HFLM._encode_pair` and `_loglikelihood_tokens`: trailing whitespace
/// of the context moves to the continuation; the continuation's tokens are those of
/// `context + continuation` after as many tokens as the context alone encodes to (an empty
/// context is the start token); the model reads the last `max_length` tokens before each scored
/// one.
pub fn score_continuations(
    tokenizer: &TextTokenizer,
    policy: &Policy,
    requests: &[(&str, &str)],
    run: &RunWindows,
) -> Result<Vec<TokenScores>, NeuralError> {
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
        let whole = tokenizer.encode(&format!("{context}{continuation}"))?;
        let mut lead = 0;
        let context_ids = if context.is_empty() {
            vec![tokenizer.prefix().ok_or_else(|| {
                NeuralError::file(
                    &tokenizer.source,
                    "no beginning- or end-of-text token to score a continuation without context",
                )
            })? as i64]
        } else {
            let own = tokenizer.encode(&context[..kept])?.ids;
            // A context that already starts with BOS (a rendered chat template writes it) gets
            // no second one.
            let bos = tokenizer.bos.filter(|_| tokenizer.lead_bos).map(i64::from).filter(|&b| own.first() != Some(&b));
            lead = usize::from(bos.is_some());
            bos.into_iter().chain(own).collect()
        };
        let skip = if context.is_empty() { 0 } else { context_ids.len() - lead };
        let own = whole.ids.len().saturating_sub(skip);
        if own == 0 || own > policy.max_length {
            return Err(NeuralError::Options(format!(
                "continuation {:?} is {own} tokens after its context; it must be 1 to max_length ({})",
                continuation, policy.max_length
            )));
        }
        let mut seq = context_ids;
        let first = seq.len();
        seq.extend_from_slice(&whole.ids[skip..]);
        let n = seq.len();
        let begin = (n - 1).saturating_sub(policy.max_length);
        let input = seq[begin..n - 1].to_vec();
        all.push((i, Window { first_pos: input.len() - own, input, targets: first..n }));
        spans.push(whole.spans[skip..].to_vec());
        sequences.push(seq);
    }
    let ids: Vec<&[i64]> = sequences.iter().map(Vec::as_slice).collect();
    let logprobs = run(&ids, &all)?;
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

/// Each prompt's token ids for generation: an empty prompt starts from the prefix token, and a
/// prompt too long for the context keeps its end (the continuation depends on what it follows).
pub fn encode_prompts(
    tokenizer: &TextTokenizer,
    prompts: &[&str],
    params: &GenParams,
    context: usize,
) -> Result<Vec<Vec<i64>>, NeuralError> {
    if params.max_new_tokens >= context {
        return Err(NeuralError::Options(format!(
            "max_new_tokens {} leaves no room for a prompt in the model's context of {context} tokens",
            params.max_new_tokens
        )));
    }
    let prefix = tokenizer.prefix().map(i64::from);
    let mut encoded = Vec::with_capacity(prompts.len());
    for p in prompts {
        let mut ids = tokenizer.encode(p)?.ids;
        if ids.is_empty() {
            ids.push(prefix.ok_or_else(|| {
                NeuralError::file(
                    &tokenizer.source,
                    "an empty prompt needs a beginning- or end-of-text token to start from",
                )
            })?);
        }
        let room = context - params.max_new_tokens;
        if ids.len() > room {
            ids.drain(..ids.len() - room);
        }
        if tokenizer.lead_bos
            && let Some(bos) = tokenizer.bos.map(i64::from)
            && ids.first() != Some(&bos)
        {
            // llama.cpp starts a prompt with the beginning-of-text token when the file says to;
            // the most recent tokens are kept when the prompt is too long.
            if ids.len() == room {
                ids.remove(0);
            }
            ids.insert(0, bos);
        }
        encoded.push(ids);
    }
    Ok(encoded)
}
