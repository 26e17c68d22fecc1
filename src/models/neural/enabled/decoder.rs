//! The decoder-only causal LMs of [`crate::models::neural::decoders`] (Llama, Qwen2, Mistral,
//! Gemma 2, Gemma 3, Phi-3) on tch, as transformers 4.46 computes them: RMSNorm in f32 (Gemma's scales by
//! `1 + w`), rotary embeddings on the two halves of each head (`rotate_half`) with the
//! configuration's rope scaling, grouped-query attention, a gated MLP (SwiGLU or GeGLU), a tied
//! or separate output matrix; a key/value cache for decoding one step at a time.
//!
//! Plain global attention without soft-capping goes through PyTorch's fused causal attention,
//! as transformers' SDPA path does; sliding-window layers attend under an explicit mask, and
//! soft-capped scores (Gemma 2) are computed as transformers' eager attention computes them.
//!
//! Weights come from a Hugging Face folder (`model.layers.N.self_attn.q_proj.weight`, …) or from a
//! Llama or Gemma 3 GGUF file, whose tensors are dequantized to f32 and renamed to the Hugging
//! Face names; llama.cpp stores Llama's query and key matrices with the rows of each head
//! interleaved for its own rotary layout, which is undone here (transformers' GGUF loader does
//! the same), and Gemma's norm weights with the `1 +` added, which is taken off again.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use super::Runtime;
use super::attention::{Attend, attention, segment_mask};
use super::causal::CausalModel;
use super::net::{KvCache, causal_net};
use super::rope::Rope;
use super::weights::{Checkpoint, Loader};
use crate::models::LanguageModel;
use crate::models::neural::NeuralError;
use crate::models::neural::decoders::{self, DecoderConfig};
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::{ModelFolder, TextTokenizer};

type Linear = (Tensor, Option<Tensor>);

struct Layer {
    input_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    /// Gemma 3: per-head norms of queries and keys before the rope.
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    o: Linear,
    /// Gemma: the norm of the attention output before the residual sum.
    post_attn_norm: Option<Tensor>,
    /// The norm before the MLP (Llama's `post_attention_layernorm`, Gemma's
    /// `pre_feedforward_layernorm`).
    ffn_norm: Tensor,
    /// Gemma: the norm of the MLP output before the residual sum.
    post_ffn_norm: Option<Tensor>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

pub struct Decoder {
    config: DecoderConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    rope: Rope,
    /// Gemma 3: the sliding-window layers' rotary embeddings (their own base, no scaling).
    local_rope: Option<Rope>,
    pub context: usize,
    pub vocab: usize,
    pub summary: String,
}

impl Decoder {
    /// Loads a GGUF file whose metadata gave `config`: every tensor dequantized (in parallel),
    /// renamed, Q/K rows un-permuted.
    pub fn load_gguf(file: &Gguf, config: DecoderConfig, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let gemma = config.gemma.is_some();
        let permuted = config.pairs == decoders::PairLayout::Adjacent;
        let named: Vec<(String, Tensor)> = file
            .tensors
            .par_iter()
            .filter_map(|info| hf_name(&info.name, gemma).map(|name| (name, info)))
            .map(|(name, info)| {
                let values = file.dequantize(info);
                let t = Tensor::from_slice(&values).view(info.torch_shape().as_slice());
                let t = if permuted && (name.ends_with("q_proj.weight") || name.ends_with("q_proj.bias")) {
                    unpermute(&t, config.heads)
                } else if permuted && (name.ends_with("k_proj.weight") || name.ends_with("k_proj.bias")) {
                    unpermute(&t, config.kv_heads)
                } else if gemma && (name.ends_with("norm.weight")) {
                    // convert_hf_to_gguf.py stores Gemma's norm weights as `1 + w`.
                    t - 1.0
                } else {
                    t
                };
                (name, t)
            })
            .collect();
        let checkpoint =
            Checkpoint { tensors: named.into_iter().collect::<HashMap<_, _>>(), files: vec![file.path.clone()] };
        let types: std::collections::BTreeSet<&str> = file.tensors.iter().map(|t| t.ggml_type.name()).collect();
        let note = format!(", GGUF {}", types.into_iter().collect::<Vec<_>>().join("/"));
        Self::build(config, checkpoint, device, kind, &note)
    }

    fn build(
        config: DecoderConfig,
        ckpt: Checkpoint,
        device: Device,
        kind: Kind,
        note: &str,
    ) -> Result<Self, NeuralError> {
        let c = &config;
        let (d, hd) = (c.hidden as i64, c.head_dim as i64);
        let (q_out, kv_out, ff) = (c.heads as i64 * hd, c.kv_heads as i64 * hd, c.intermediate as i64);
        let gemma = c.gemma.is_some();
        let mut w = Loader::new(ckpt, device, kind);
        let embed = w.take("model.embed_tokens.weight", &[c.vocab as i64, d])?;
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let p = format!("model.layers.{i}");
            let mut linear = |name: &str, out: i64, inp: i64, bias: bool| -> Result<Linear, NeuralError> {
                let weight = w.take(&format!("{p}.{name}.weight"), &[out, inp])?;
                let b = if bias { Some(w.take(&format!("{p}.{name}.bias"), &[out])?) } else { None };
                Ok((weight, b))
            };
            let (q, k, v) = if c.fused {
                // Phi-3: one matrix, rows [q | k | v].
                let (qkv, _) = linear("self_attn.qkv_proj", q_out + 2 * kv_out, d, false)?;
                let part = |start: i64, len: i64| (qkv.narrow(0, start, len).contiguous(), None);
                (part(0, q_out), part(q_out, kv_out), part(q_out + kv_out, kv_out))
            } else {
                (
                    linear("self_attn.q_proj", q_out, d, c.qkv_bias)?,
                    linear("self_attn.k_proj", kv_out, d, c.qkv_bias)?,
                    linear("self_attn.v_proj", kv_out, d, c.qkv_bias)?,
                )
            };
            let o = linear("self_attn.o_proj", d, q_out, c.o_bias)?;
            let (gate, up) = if c.fused {
                // Phi-3: one matrix, rows [gate | up].
                let (gu, _) = linear("mlp.gate_up_proj", 2 * ff, d, false)?;
                ((gu.narrow(0, 0, ff).contiguous(), None), (gu.narrow(0, ff, ff).contiguous(), None))
            } else {
                (linear("mlp.gate_proj", ff, d, c.mlp_bias)?, linear("mlp.up_proj", ff, d, c.mlp_bias)?)
            };
            let down = linear("mlp.down_proj", d, ff, c.mlp_bias)?;
            let (q_norm, k_norm) = if c.qk_norm {
                let mut head_norm = |name: &str| w.take(&format!("{p}.self_attn.{name}.weight"), &[hd]);
                (Some(head_norm("q_norm")?), Some(head_norm("k_norm")?))
            } else {
                (None, None)
            };
            let mut norm = |name: &str| w.take(&format!("{p}.{name}.weight"), &[d]);
            let input_norm = norm("input_layernorm")?;
            let (post_attn_norm, ffn_norm, post_ffn_norm) = if gemma {
                (
                    Some(norm("post_attention_layernorm")?),
                    norm("pre_feedforward_layernorm")?,
                    Some(norm("post_feedforward_layernorm")?),
                )
            } else {
                (None, norm("post_attention_layernorm")?, None)
            };
            layers.push(Layer {
                input_norm,
                q,
                k,
                v,
                q_norm,
                k_norm,
                o,
                post_attn_norm,
                ffn_norm,
                post_ffn_norm,
                gate,
                up,
                down,
            });
        }
        let norm = w.take("model.norm.weight", &[d])?;
        let lm_head = if c.tied { embed.shallow_clone() } else { w.take("lm_head.weight", &[c.vocab as i64, d])? };
        let rope = Rope::new(c, device);
        let local_rope = c.local_rope_theta.map(|theta| {
            let local = DecoderConfig { rope_theta: theta, rope_scaling: decoders::RopeScaling::None, ..c.clone() };
            Rope::new(&local, device)
        });
        let summary = format!("{}{note}", c.summary(w.params as f64));
        // A tied head may still be stored (transformers saves both names for some models).
        w.finish(|n| config.tied && n == "lm_head.weight")?;
        Ok(Decoder {
            context: config.context,
            vocab: config.vocab,
            config,
            embed,
            layers,
            norm,
            lm_head,
            rope,
            local_rope,
            summary,
        })
    }

    /// longrope: the position past the original context, where a sequence switches factors.
    pub fn recompute_cache_at(&self) -> Option<i64> {
        match &self.config.rope_scaling {
            decoders::RopeScaling::LongRope { original_context, .. } => Some(*original_context as i64),
            _ => None,
        }
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor) -> Tensor {
        let xf = x.to_kind(Kind::Float);
        let var = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let normed = xf * (var + self.config.rms_eps).rsqrt();
        if self.config.gemma.is_some() {
            // Gemma: `x̂ · (1 + w)` in f32, then the input's type.
            (normed * (w.to_kind(Kind::Float) + 1.0)).to_kind(x.kind())
        } else {
            w * normed.to_kind(x.kind())
        }
    }

    /// Logits of final hidden states: `[…, d]` → `[…, vocab]`, soft-capped where the model says.
    pub fn head(&self, hidden: &Tensor) -> Tensor {
        let logits = hidden.matmul(&self.lm_head.tr());
        match self.config.gemma.as_ref().and_then(|g| g.final_softcap) {
            Some(cap) => (logits / cap).tanh() * cap,
            None => logits,
        }
    }

    /// Final hidden states `[batch, seq, d]` of `input` `[batch, seq]` at `positions`
    /// (broadcastable to the input), attending as `attend` says; `cache` holds earlier keys and
    /// values and grows by these positions.
    pub fn forward(
        &self,
        input: &Tensor,
        positions: &Tensor,
        attend: &Attend,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor, NeuralError> {
        let (b, t) = input.size2().map_err(|e| NeuralError::Torch(e.to_string()))?;
        let c = &self.config;
        let (nh, nkv, hd) = (c.heads as i64, c.kv_heads as i64, c.head_dim as i64);
        let kind = self.embed.kind();
        let global_angles = self.rope.cos_sin(positions, attend, kind);
        let local_angles = self.local_rope.as_ref().map(|r| r.cos_sin(positions, attend, kind));
        let rope = |x: &Tensor, (cos, sin): &(Tensor, Tensor)| -> Tensor {
            let halves = x.chunk(2, -1);
            let rotated = Tensor::cat(&[&(-&halves[1]), &halves[0]], -1);
            x * cos + rotated * sin
        };
        let past = cache.as_ref().map_or(0, |c| c.len as i64);
        let masks = Masks::new(c, attend, past, t, input.device())?;
        let linear = |x: &Tensor, (w, bias): &Linear| x.linear(w, bias.as_ref());
        let mut h = Tensor::embedding(&self.embed, input, -1, false, false);
        if c.gemma.is_some() {
            // transformers: `h · tensor(sqrt(hidden), dtype=h.dtype)`.
            h = h * f64::from((c.hidden as f64).sqrt() as f32);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let x = self.rms_norm(&h, &layer.input_norm);
            let angles = match &local_angles {
                Some(local) if c.is_local(i) => local,
                _ => &global_angles,
            };
            let mut q = linear(&x, &layer.q).view([b, t, nh, hd]).transpose(1, 2);
            let mut k = linear(&x, &layer.k).view([b, t, nkv, hd]).transpose(1, 2);
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                q = self.rms_norm(&q, qn);
                k = self.rms_norm(&k, kn);
            }
            let q = rope(&q, angles);
            let mut k = rope(&k, angles);
            let mut v = linear(&x, &layer.v).view([b, t, nkv, hd]).transpose(1, 2);
            if let Some(cache) = cache.as_deref_mut() {
                (k, v) = cache.extend(i, k, v);
            }
            let (k, v) = (repeat_kv(&k, nh / nkv), repeat_kv(&v, nh / nkv));
            let a = match masks.for_layer(c.is_local(i)) {
                None => attention(&q, &k, &v, attend)?,
                Some(mask) => masked_attention(c, &q, &k, &v, mask)?,
            };
            let a = linear(&a.transpose(1, 2).contiguous().view([b, t, nh * hd]), &layer.o);
            h = h + match &layer.post_attn_norm {
                Some(n) => self.rms_norm(&a, n),
                None => a,
            };
            let x = self.rms_norm(&h, &layer.ffn_norm);
            let gate = super::activate(&linear(&x, &layer.gate), c.activation);
            let m = linear(&(gate * linear(&x, &layer.up)), &layer.down);
            h = h + match &layer.post_ffn_norm {
                Some(n) => self.rms_norm(&m, n),
                None => m,
            };
        }
        if let Some(cache) = cache {
            cache.len += t as usize;
        }
        Ok(self.rms_norm(&h, &self.norm))
    }
}

/// The explicit masks a forward pass needs (`[batch or 1, 1, queries, keys]`, true = may attend):
/// none where every layer takes the fused causal path, else the global one and, for
/// sliding-window layers, the global one limited to the window (by slot: within a row's sequence
/// or packed segment, slots and positions differ by the same offset).
struct Masks {
    global: Option<Tensor>,
    local: Option<Tensor>,
}

impl Masks {
    fn new(c: &DecoderConfig, attend: &Attend, past: i64, t: i64, device: Device) -> Result<Self, NeuralError> {
        let any_local = (0..c.layers).any(|i| c.is_local(i));
        if c.gemma.is_none() && !any_local {
            return Ok(Masks { global: None, local: None });
        }
        let keys = past + t;
        let query_slots = Tensor::arange_start(past, keys, (Kind::Int64, device)).unsqueeze(1);
        let distance = query_slots - Tensor::arange(keys, (Kind::Int64, device)).unsqueeze(0);
        let causal = distance.ge(0).view([1, 1, t, keys]);
        let global = match attend {
            Attend::Causal => causal,
            Attend::Mask(m) => m.shallow_clone(),
            Attend::Segments(_) if past > 0 => {
                return Err(NeuralError::Options("packed rows cannot extend a key/value cache".into()));
            }
            Attend::Segments(rows) => segment_mask(rows, t, device).logical_and(&causal),
        };
        let local = match c.window {
            Some(w) if any_local => Some(global.logical_and(&distance.lt(w as i64).view([1, 1, t, keys]))),
            _ => None,
        };
        // Plain global layers of non-Gemma models keep the fused path.
        let global = if c.gemma.is_some() { Some(global) } else { None };
        Ok(Masks { global, local })
    }

    fn for_layer(&self, local: bool) -> Option<&Tensor> {
        if local { self.local.as_ref() } else { self.global.as_ref() }
    }
}

/// Attention under an explicit mask with the model's query scale; soft-capped scores as
/// transformers' eager attention computes them (scores in the input's type, the softmax in f32).
fn masked_attention(
    c: &DecoderConfig,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
) -> Result<Tensor, NeuralError> {
    let scale = match &c.gemma {
        Some(g) => g.query_pre_attn_scalar.powf(-0.5),
        None => 1.0 / (c.head_dim as f64).sqrt(),
    };
    match c.gemma.as_ref().and_then(|g| g.attn_softcap) {
        None => Tensor::f_scaled_dot_product_attention(q, k, v, Some(mask), 0.0, false, Some(scale))
            .map_err(|e| NeuralError::Torch(e.to_string())),
        Some(cap) => {
            let scores = q.matmul(&k.transpose(-2, -1)) * scale;
            let scores = (scores / cap).tanh() * cap;
            // transformers adds the dtype's minimum where masked; a row never is wholly masked.
            let scores = scores.masked_fill(&mask.logical_not(), f64::from(f32::MIN));
            Ok(scores.softmax(-1, Kind::Float).to_kind(q.kind()).matmul(v))
        }
    }
}

/// `[b, kv, t, d]` → `[b, kv·n, t, d]`, each key/value head serving `n` query heads in turn.
fn repeat_kv(x: &Tensor, n: i64) -> Tensor {
    if n == 1 {
        return x.shallow_clone();
    }
    let s = x.size();
    x.unsqueeze(2).expand([s[0], s[1], n, s[2], s[3]], false).reshape([s[0], s[1] * n, s[2], s[3]])
}

/// Undoes llama.cpp's `permute` of query/key rows: per head, `[d/2, 2]` interleaved → `[2, d/2]`.
fn unpermute(t: &Tensor, heads: usize) -> Tensor {
    let shape = t.size();
    let heads = heads as i64;
    let rest: i64 = shape[1..].iter().product();
    t.reshape([heads, shape[0] / heads / 2, 2, rest]).swapaxes(1, 2).reshape(shape.as_slice())
}

/// GGUF tensor names (llama.cpp's `LLM_TENSOR_NAMES` for llama and gemma3) → transformers'
/// names; `ffn_norm` is the norm before the MLP, which Gemma calls `pre_feedforward_layernorm`.
fn hf_name(gguf: &str, gemma: bool) -> Option<String> {
    Some(match gguf {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => {
            let rest = gguf.strip_prefix("blk.")?;
            let (layer, part) = rest.split_once('.')?;
            let (tensor, suffix) = part.rsplit_once('.')?;
            let hf = match tensor {
                "attn_norm" => "input_layernorm",
                "ffn_norm" if gemma => "pre_feedforward_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                "post_attention_norm" => "post_attention_layernorm",
                "post_ffw_norm" => "post_feedforward_layernorm",
                "attn_q_norm" => "self_attn.q_norm",
                "attn_k_norm" => "self_attn.k_norm",
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                _ => return None,
            };
            format!("model.layers.{layer}.{hf}.{suffix}")
        }
    })
}

causal_net!(Decoder, recompute);

/// The registry's loader for Hugging Face folders of the decoder architectures: the reader of
/// the folder's `model_type` (see [`decoders::read_hf`]) gives the configuration.
pub fn load_hf(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let config = decoders::read_hf(&folder).ok_or_else(|| {
        NeuralError::file(
            &folder.config_path(),
            format!("model_type {:?} has no decoder configuration reader", folder.model_type),
        )
    })??;
    let net = Decoder::build(config, super::checked_checkpoint(&folder)?, t.device, t.kind, "")?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}

/// The registry's loader for GGUF files of the decoder architectures (`general.architecture`:
/// llama, gemma3). The configuration and tokenizer are checked before any tensor is dequantized.
pub fn load_gguf(file: Gguf, t: Runtime<'_>) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let config = decoders::from_gguf(&file)?;
    let tokenizer = crate::models::neural::gguf::tokenizer::from_gguf(&file)?;
    let net = Decoder::load_gguf(&file, config, t.device, t.kind)?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}
