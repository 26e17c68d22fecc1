//! Decoding for causal networks: a key/value cache, and batched generation with left padding as
//! transformers' `generate` lays it out (each row's positions count from its first real token,
//! padded keys masked), so a batch yields what each prompt would alone.
//!
//! Each step runs the network on one new token per row against the cache, reads the last
//! position's logits back, and picks the next token on the host ([`generate::choose`]) from the
//! row's own seeded stream. A row ends at the end-of-text token, a stop sequence or
//! `max_new_tokens`; finished rows ride along (fed padding) until the batch ends.

use tch::{Device, Kind, Tensor};

use super::attention::Attend;
use super::net::{CausalNet, KvCache};
use crate::models::generate::{self, Finish, GenParams, Generation};
use crate::models::neural::NeuralError;
use crate::models::neural::hf::TextTokenizer;
use crate::models::neural::scoring;

/// Generates a continuation of each prompt. Prompts are batched (longest first) so that a batch
/// holds about `batch_tokens` positions at its longest; each prompt keeps its index's random
/// stream, so batching never changes a sample.
pub fn generate(
    net: &dyn CausalNet,
    tok: &TextTokenizer,
    prompts: &[&str],
    params: &GenParams,
    device: Device,
    batch_tokens: usize,
) -> Result<Vec<Generation>, NeuralError> {
    let encoded = scoring::encode_prompts(tok, prompts, params, net.context())?;
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].len()));
    let mut out: Vec<Option<Generation>> = vec![None; prompts.len()];
    let mut start = 0;
    while start < order.len() {
        let longest = encoded[order[start]].len() + params.max_new_tokens;
        let rows = (batch_tokens / longest).max(1).min(order.len() - start);
        let batch = &order[start..start + rows];
        let results = tch::no_grad(|| {
            decode_batch(net, tok, batch.iter().map(|&i| (i, encoded[i].as_slice())).collect(), params, device)
        })?;
        for (&i, g) in batch.iter().zip(results) {
            out[i] = Some(g);
        }
        start += rows;
    }
    Ok(out.into_iter().map(|g| g.expect("every prompt decoded")).collect())
}

/// The attention mask `[b, 1, t, t]` of left-padded rows whose real keys are `keys` `[b, t]`:
/// query i may see key j ≤ i that is not padding; a padding query sees itself (never an empty
/// row, whose softmax would be NaN and leak into the real rows through the values).
fn padded_causal_mask(keys: &Tensor) -> Tensor {
    let t = keys.size()[1];
    let device = keys.device();
    let causal = Tensor::ones([t, t], (Kind::Bool, device)).tril(0);
    let eye = Tensor::eye(t, (Kind::Bool, device));
    causal.unsqueeze(0).logical_and(&keys.unsqueeze(1)).logical_or(&eye.unsqueeze(0)).unsqueeze(1)
}

struct Row {
    ids: Vec<u32>,
    rng: rand_chacha::ChaCha8Rng,
    done: Option<Finish>,
    text: String,
}

fn decode_batch(
    net: &dyn CausalNet,
    tok: &TextTokenizer,
    prompts: Vec<(usize, &[i64])>,
    params: &GenParams,
    device: Device,
) -> Result<Vec<Generation>, NeuralError> {
    let b = prompts.len() as i64;
    let width = prompts.iter().map(|(_, p)| p.len()).max().unwrap_or(1) as i64;
    let pad = tok.pad.or(tok.eos).unwrap_or(0) as i64;
    let mut flat = Vec::with_capacity((b * width) as usize);
    let mut valid = Vec::with_capacity((b * width) as usize);
    let mut positions = Vec::with_capacity((b * width) as usize);
    for (_, p) in &prompts {
        let lead = width as usize - p.len();
        flat.extend(std::iter::repeat_n(pad, lead).chain(p.iter().copied()));
        valid.extend((0..width as usize).map(|j| j >= lead));
        positions.extend((0..width).map(|j| (j - lead as i64).max(0)));
    }
    let input = Tensor::from_slice(&flat).view([b, width]).to_device(device);
    let mut keys = Tensor::from_slice(&valid).view([b, width]).to_device(device);
    let pos = Tensor::from_slice(&positions).view([b, width]).to_device(device);
    let mask = padded_causal_mask(&keys);
    let mut cache = KvCache::default();
    let mut hidden = net.forward_cached(&input, &pos, &Attend::Mask(&mask), &mut cache)?.select(1, -1);
    let mut last_pos = pos.select(1, -1);
    let no_cache = !params.kv_cache;
    let (mut all_input, mut all_pos) = (input.shallow_clone(), pos.shallow_clone());
    let eos = tok.eos;
    let mut rows: Vec<Row> = prompts
        .iter()
        .map(|&(index, _)| Row { ids: Vec::new(), rng: params.rng(index), done: None, text: String::new() })
        .collect();
    for step in 0..params.max_new_tokens {
        let mut logits = super::host_f32(&net.head(&hidden).reshape([-1]))?;
        let vocab = logits.len() / rows.len();
        // A NaN or +inf logit (broken weights) would make the choice arbitrary: refuse it.
        if let Some(k) = logits.iter().position(|l| l.is_nan() || *l == f32::INFINITY) {
            let prompt = prompts[k / vocab].0;
            return Err(NeuralError::Torch(format!(
                "the network gave a non-finite logit ({}) for token {} at generation step {step} of prompt {}; its weights or configuration are broken",
                logits[k],
                k % vocab,
                prompt + 1
            )));
        }
        if let Some(eos) = eos.filter(|_| step < params.min_new_tokens) {
            for r in 0..rows.len() {
                logits[r * vocab + eos as usize] = f32::NEG_INFINITY;
            }
        }
        let mut next = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter_mut().enumerate() {
            if row.done.is_some() {
                next.push(pad);
                continue;
            }
            let id = generate::choose(&logits[r * vocab..(r + 1) * vocab], params, &mut row.rng) as u32;
            row.ids.push(id);
            next.push(id as i64);
            if Some(id) == eos {
                row.done = Some(Finish::EndOfText);
                continue;
            }
            row.text = tok.decode(&row.ids)?;
            if let Some(cut) = generate::stop_at(&row.text, &params.stop) {
                row.text.truncate(cut);
                row.done = Some(Finish::Stop);
            }
        }
        if rows.iter().all(|r| r.done.is_some()) || step + 1 == params.max_new_tokens {
            break;
        }
        last_pos = last_pos + 1;
        keys = Tensor::cat(&[&keys, &Tensor::ones([b, 1], (Kind::Bool, device))], 1);
        let step_input = Tensor::from_slice(&next).view([b, 1]).to_device(device);
        all_input = Tensor::cat(&[&all_input, &step_input], 1);
        all_pos = Tensor::cat(&[&all_pos, &last_pos.unsqueeze(1)], 1);
        // transformers' Phi-3 `generate` recomputes the cache when a sequence first goes past
        // its original context, so that earlier keys take the long rope factors too.
        let recompute = net.recompute_cache_at().is_some_and(|at| last_pos.eq(at).any().int64_value(&[]) != 0);
        if no_cache || recompute {
            let full = padded_causal_mask(&keys);
            let mut fresh = KvCache::default();
            let target = if no_cache { &mut fresh } else { &mut cache };
            *target = KvCache::default();
            hidden = net.forward_cached(&all_input, &all_pos, &Attend::Mask(&full), target)?.select(1, -1);
            continue;
        }
        hidden = net
            .forward_cached(&step_input, &last_pos.unsqueeze(1), &Attend::Mask(&keys.view([b, 1, 1, -1])), &mut cache)?
            .select(1, -1);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let text = if r.done == Some(Finish::EndOfText) {
                tok.decode(&r.ids[..r.ids.len() - 1]).unwrap_or_default()
            } else {
                r.text
            };
            Generation { tokens: r.ids.len(), text, token_ids: r.ids, finish: r.done.unwrap_or(Finish::Length) }
        })
        .collect())
}
