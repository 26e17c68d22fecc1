//! GPT-Neo (`model_type: gpt_neo`) on tch, as transformers 4.46's `GPTNeoForCausalLM` computes
//! it: learned absolute positions, pre-norm blocks whose attention has separate bias-free query,
//! key and value projections and is *not* scaled by 1/√d, alternating global and local layers
//! (`attention_types`; a local layer's query sees only the `window_size` most recent slots,
//! itself included), a GELU MLP of `intermediate_size` (default 4·d) and an output matrix tied to
//! the token embeddings unless the config says otherwise.
//!
//! The local window counts slots of the input as transformers' mask buffer does, so with left
//! padding (batched generation) padded slots count toward it exactly as they do there.

use std::sync::Arc;

use serde_json::Value;
use tch::{Device, Kind, Tensor};

use super::Runtime;
use super::activate;
use super::attention::{Attend, segment_mask};
use super::causal::CausalModel;
use super::net::{KvCache, causal_net};
use super::weights::{Checkpoint, Loader};
use crate::models::LanguageModel;
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;
use crate::models::neural::hf::{ModelFolder, TextTokenizer};

type Norm = (Tensor, Tensor);

struct Block {
    ln1: Norm,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: (Tensor, Tensor),
    ln2: Norm,
    fc: (Tensor, Tensor),
    proj: (Tensor, Tensor),
    /// `Some(window)` for a local layer.
    local: Option<i64>,
}

pub struct GptNeo {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: Norm,
    lm_head: Tensor,
    heads: i64,
    eps: f64,
    activation: Activation,
    pub context: usize,
    pub vocab: usize,
    pub summary: String,
}

/// `attention_types` (`[[["global", "local"], 6]]`) expanded to one entry per layer.
fn layer_types(c: &Value, layers: usize) -> Result<Vec<bool>, String> {
    let Some(groups) = c.get("attention_types").and_then(Value::as_array) else {
        return Ok(vec![false; layers]);
    };
    let mut local = Vec::new();
    for g in groups {
        let (Some(kinds), Some(n)) = (g.get(0).and_then(Value::as_array), g.get(1).and_then(Value::as_u64)) else {
            return Err("attention_types must hold [[kinds…], repeats] pairs".into());
        };
        for _ in 0..n.min(layers as u64 + 1) {
            for k in kinds {
                match k.as_str() {
                    Some("global") => local.push(false),
                    Some("local") => local.push(true),
                    other => return Err(format!("attention type {other:?} is not supported (global and local are)")),
                }
            }
        }
    }
    if local.len() != layers {
        return Err(format!("attention_types describe {} layers but num_layers is {layers}", local.len()));
    }
    Ok(local)
}

impl GptNeo {
    pub fn load(folder: &ModelFolder, ckpt: Checkpoint, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let path = folder.config_path();
        let err = |m: String| NeuralError::file(&path, m);
        let c = &folder.config;
        let int =
            |k: &str| folder.int(k).and_then(|v| usize::try_from(v).map_err(|_| err(format!("\"{k}\" is negative"))));
        let (d, layers, heads) = (int("hidden_size")?, int("num_layers")?, int("num_heads")?);
        if heads == 0 || d % heads != 0 {
            return Err(err(format!("hidden_size {d} is not a multiple of num_heads {heads}")));
        }
        let ff = c.get("intermediate_size").and_then(Value::as_u64).map_or(4 * d, |f| f as usize);
        let (vocab, context) = (int("vocab_size")?, int("max_position_embeddings")?);
        let window = int("window_size").unwrap_or(256) as i64;
        let local = layer_types(c, layers).map_err(err)?;
        let activation = Activation::from_config(c, "activation_function", "gelu_new").map_err(err)?;
        let tied = c.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(true);
        // The configuration's own consistency first (its message is the sharper one), then its
        // agreement with the checkpoint, before any tensor is built.
        ckpt.check_config(folder)?;
        let mut w = Loader::new(ckpt, device, kind);
        // Some checkpoints store the body without the `transformer.` prefix.
        if !w.ckpt.tensors.contains_key("transformer.wte.weight") {
            w.ckpt.rename(|n| Some(if n.starts_with("lm_head.") { n.to_owned() } else { format!("transformer.{n}") }));
        }
        let (d, ff) = (d as i64, ff as i64);
        let wte = w.take("transformer.wte.weight", &[vocab as i64, d])?;
        let wpe = w.take("transformer.wpe.weight", &[context as i64, d])?;
        let mut blocks = Vec::with_capacity(layers);
        for (i, &is_local) in local.iter().enumerate() {
            let p = format!("transformer.h.{i}");
            blocks.push(Block {
                ln1: w.pair(&format!("{p}.ln_1"), &[d], &[d])?,
                q: w.take(&format!("{p}.attn.attention.q_proj.weight"), &[d, d])?,
                k: w.take(&format!("{p}.attn.attention.k_proj.weight"), &[d, d])?,
                v: w.take(&format!("{p}.attn.attention.v_proj.weight"), &[d, d])?,
                out: w.pair(&format!("{p}.attn.attention.out_proj"), &[d, d], &[d])?,
                ln2: w.pair(&format!("{p}.ln_2"), &[d], &[d])?,
                fc: w.pair(&format!("{p}.mlp.c_fc"), &[ff, d], &[ff])?,
                proj: w.pair(&format!("{p}.mlp.c_proj"), &[d, ff], &[d])?,
                local: is_local.then_some(window),
            });
        }
        let ln_f = w.pair("transformer.ln_f", &[d], &[d])?;
        let lm_head = if tied { wte.shallow_clone() } else { w.take("lm_head.weight", &[vocab as i64, d])? };
        let locals = local.iter().filter(|&&l| l).count();
        let summary = format!(
            "GPT-Neo causal LM: {layers} layers ({locals} local, window {window}), d={d}, {heads} heads, context {context}, {:.1}M parameters",
            w.params as f64 / 1e6
        );
        let eps = c.get("layer_norm_epsilon").and_then(Value::as_f64).unwrap_or(1e-5);
        w.finish(|n| tied && n == "lm_head.weight")?;
        Ok(GptNeo { wte, wpe, blocks, ln_f, lm_head, heads: heads as i64, eps, activation, context, vocab, summary })
    }

    /// Logits of final hidden states: `[…, d]` → `[…, vocab]`.
    pub fn head(&self, hidden: &Tensor) -> Tensor {
        hidden.matmul(&self.lm_head.tr())
    }

    /// Final hidden states `[batch, seq, d]` of `input` at `positions`, attending as `attend`
    /// says (local layers further limited to their window); `cache` holds earlier slots.
    pub fn forward(
        &self,
        input: &Tensor,
        positions: &Tensor,
        attend: &Attend,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor, NeuralError> {
        let (b, t) = input.size2().map_err(|e| NeuralError::Torch(e.to_string()))?;
        let d = self.wte.size()[1];
        let hd = d / self.heads;
        let past = cache.as_ref().map_or(0, |c| c.len as i64);
        let keys = past + t;
        let device = input.device();
        // Slot of each query and key; a key is visible if it is not after the query (and, in a
        // local layer, fewer than `window` slots before it).
        let query_slots = Tensor::arange_start(past, keys, (Kind::Int64, device)).unsqueeze(1);
        let key_slots = Tensor::arange(keys, (Kind::Int64, device)).unsqueeze(0);
        let distance = &query_slots - &key_slots;
        let base = match attend {
            Attend::Causal => distance.ge(0).view([1, 1, t, keys]),
            Attend::Mask(m) => m.shallow_clone(),
            // Packed rows attend under a block-diagonal mask, as every layer here attends under an
            // explicit mask anyway. Within a segment slots and positions differ by the same
            // offset, so the local windows below count the same keys as for the segment alone.
            Attend::Segments(_) if past > 0 => {
                return Err(NeuralError::Options("packed rows cannot extend a key/value cache".into()));
            }
            Attend::Segments(rows) => segment_mask(rows, t, device).logical_and(&distance.ge(0).view([1, 1, t, keys])),
        };
        let local_masks: Vec<(i64, Tensor)> = {
            let mut windows: Vec<i64> = self.blocks.iter().filter_map(|blk| blk.local).collect();
            windows.sort_unstable();
            windows.dedup();
            windows.into_iter().map(|w| (w, base.logical_and(&distance.lt(w)))).collect()
        };
        let norm = |x: &Tensor, (w, bias): &Norm| x.layer_norm([d], Some(w), Some(bias), self.eps, false);
        let split = |x: Tensor| x.view([b, t, self.heads, hd]).transpose(1, 2);
        let mut h = Tensor::embedding(&self.wte, input, -1, false, false)
            + Tensor::embedding(&self.wpe, positions, -1, false, false);
        for (i, blk) in self.blocks.iter().enumerate() {
            let x = norm(&h, &blk.ln1);
            let q = split(x.linear::<Tensor>(&blk.q, None));
            let (mut k, mut v) = (split(x.linear::<Tensor>(&blk.k, None)), split(x.linear::<Tensor>(&blk.v, None)));
            if let Some(cache) = cache.as_deref_mut() {
                (k, v) = cache.extend(i, k, v);
            }
            let mask = match blk.local {
                Some(w) => &local_masks.iter().find(|(lw, _)| *lw == w).expect("one mask per window").1,
                None => &base,
            };
            // transformers keeps the scores in f32 and does not scale them.
            let kind = q.kind();
            let a = Tensor::f_scaled_dot_product_attention(
                &q.to_kind(Kind::Float),
                &k.to_kind(Kind::Float),
                &v.to_kind(Kind::Float),
                Some(mask),
                0.0,
                false,
                Some(1.0),
            )
            .map_err(|e| NeuralError::Torch(e.to_string()))?
            .to_kind(kind);
            let a = a.transpose(1, 2).contiguous().view([b, t, d]);
            h = h + a.linear(&blk.out.0, Some(&blk.out.1));
            let m = activate(&norm(&h, &blk.ln2).linear(&blk.fc.0, Some(&blk.fc.1)), self.activation);
            h = h + m.linear(&blk.proj.0, Some(&blk.proj.1));
        }
        if let Some(cache) = cache {
            cache.len += t as usize;
        }
        Ok(norm(&h, &self.ln_f))
    }
}

causal_net!(GptNeo);

/// The registry's loader for `model_type: gpt_neo`.
pub fn load(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let net = GptNeo::load(&folder, Checkpoint::read(&folder.weights)?, t.device, t.kind)?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}
