//! Llama-family causal LM on tch, as transformers 4.46's `LlamaForCausalLM` computes it: RMSNorm
//! (in f32), rotary embeddings on the two halves of each head (`rotate_half`), grouped-query
//! attention through PyTorch's fused scaled-dot-product attention, a SwiGLU MLP and a tied or
//! separate output matrix; a key/value cache for decoding one step at a time.
//!
//! Weights come from a Hugging Face folder (`model.layers.N.self_attn.q_proj.weight`, …) or from a
//! GGUF file, whose tensors are dequantized to f32 and renamed to the Hugging Face names; llama.cpp
//! stores the query and key matrices with the rows of each head interleaved for its own rotary
//! layout, which is undone here (transformers' GGUF loader does the same).

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

use super::Runtime;
use super::attention::{Attend, attention};
use super::causal::CausalModel;
use super::net::{KvCache, causal_net};
use super::weights::{Checkpoint, Loader};
use crate::models::LanguageModel;
use crate::models::neural::NeuralError;
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::{ModelFolder, TextTokenizer};
use crate::models::neural::llama_config::LlamaConfig;

struct Layer {
    input_norm: Tensor,
    q: (Tensor, Option<Tensor>),
    k: (Tensor, Option<Tensor>),
    v: (Tensor, Option<Tensor>),
    o: (Tensor, Option<Tensor>),
    post_norm: Tensor,
    gate: (Tensor, Option<Tensor>),
    up: (Tensor, Option<Tensor>),
    down: (Tensor, Option<Tensor>),
}

pub struct Llama {
    config: LlamaConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    inv_freq: Tensor,
    pub context: usize,
    pub vocab: usize,
    pub summary: String,
}

impl Llama {
    pub fn load_hf(
        config: LlamaConfig,
        checkpoint: Checkpoint,
        device: Device,
        kind: Kind,
    ) -> Result<Self, NeuralError> {
        Self::build(config, checkpoint, device, kind, "")
    }

    /// Loads a GGUF file whose metadata gave `config`: every tensor dequantized (in parallel),
    /// renamed, Q/K rows un-permuted.
    pub fn load_gguf(file: &Gguf, config: LlamaConfig, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let named: Vec<(String, Tensor)> = file
            .tensors
            .par_iter()
            .filter_map(|info| hf_name(&info.name).map(|name| (name, info)))
            .map(|(name, info)| {
                let values = file.dequantize(info);
                let t = Tensor::from_slice(&values).view(info.torch_shape().as_slice());
                let t = if name.ends_with("q_proj.weight") || name.ends_with("q_proj.bias") {
                    unpermute(&t, config.heads)
                } else if name.ends_with("k_proj.weight") || name.ends_with("k_proj.bias") {
                    unpermute(&t, config.kv_heads)
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
        config: LlamaConfig,
        ckpt: Checkpoint,
        device: Device,
        kind: Kind,
        note: &str,
    ) -> Result<Self, NeuralError> {
        let (d, hd) = (config.hidden as i64, config.head_dim as i64);
        let (q_out, kv_out, ff) = (config.heads as i64 * hd, config.kv_heads as i64 * hd, config.intermediate as i64);
        let mut w = Loader::new(ckpt, device, kind);
        let embed = w.take("model.embed_tokens.weight", &[config.vocab as i64, d])?;
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("model.layers.{i}");
            let mut linear =
                |name: &str, out: i64, inp: i64, bias: bool| -> Result<(Tensor, Option<Tensor>), NeuralError> {
                    let weight = w.take(&format!("{p}.{name}.weight"), &[out, inp])?;
                    let b = if bias { Some(w.take(&format!("{p}.{name}.bias"), &[out])?) } else { None };
                    Ok((weight, b))
                };
            let (ab, mb) = (config.attention_bias, config.mlp_bias);
            let q = linear("self_attn.q_proj", q_out, d, ab)?;
            let k = linear("self_attn.k_proj", kv_out, d, ab)?;
            let v = linear("self_attn.v_proj", kv_out, d, ab)?;
            let o = linear("self_attn.o_proj", d, q_out, ab)?;
            let gate = linear("mlp.gate_proj", ff, d, mb)?;
            let up = linear("mlp.up_proj", ff, d, mb)?;
            let down = linear("mlp.down_proj", d, ff, mb)?;
            let input_norm = w.take(&format!("{p}.input_layernorm.weight"), &[d])?;
            let post_norm = w.take(&format!("{p}.post_attention_layernorm.weight"), &[d])?;
            layers.push(Layer { input_norm, q, k, v, o, post_norm, gate, up, down });
        }
        let norm = w.take("model.norm.weight", &[d])?;
        let lm_head =
            if config.tied { embed.shallow_clone() } else { w.take("lm_head.weight", &[config.vocab as i64, d])? };
        // transformers: inv_freq = 1 / theta^(arange(0, dim, 2) / dim), in f32.
        let exponents =
            Tensor::arange_start_step(0, hd, 2, (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) / hd as f64;
        let inv_freq = (Tensor::from(config.rope_theta as f32).pow(&exponents)).reciprocal().to_device(device);
        let summary = format!("{}{note}", config.summary(w.params as f64));
        // A tied head may still be stored (transformers saves both names for some models).
        w.finish(|n| config.tied && n == "lm_head.weight")?;
        Ok(Llama {
            context: config.context,
            vocab: config.vocab,
            config,
            embed,
            layers,
            norm,
            lm_head,
            inv_freq,
            summary,
        })
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor) -> Tensor {
        let xf = x.to_kind(Kind::Float);
        let var = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        w * (xf * (var + self.config.rms_eps).rsqrt()).to_kind(x.kind())
    }

    /// Logits of final hidden states: `[…, d]` → `[…, vocab]`.
    pub fn head(&self, hidden: &Tensor) -> Tensor {
        hidden.matmul(&self.lm_head.tr())
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
        // transformers: freqs = positions ⊗ inv_freq in f32, emb = [freqs, freqs].
        let freqs = positions.to_kind(Kind::Float).unsqueeze(-1) * &self.inv_freq;
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(-3);
        let kind = self.embed.kind();
        let (cos, sin) = (emb.cos().to_kind(kind), emb.sin().to_kind(kind));
        let rope = |x: &Tensor| -> Tensor {
            let halves = x.chunk(2, -1);
            let rotated = Tensor::cat(&[&(-&halves[1]), &halves[0]], -1);
            x * &cos + rotated * &sin
        };
        let linear = |x: &Tensor, (w, bias): &(Tensor, Option<Tensor>)| x.linear(w, bias.as_ref());
        let mut h = Tensor::embedding(&self.embed, input, -1, false, false);
        for (i, layer) in self.layers.iter().enumerate() {
            let x = self.rms_norm(&h, &layer.input_norm);
            let q = rope(&linear(&x, &layer.q).view([b, t, nh, hd]).transpose(1, 2));
            let mut k = rope(&linear(&x, &layer.k).view([b, t, nkv, hd]).transpose(1, 2));
            let mut v = linear(&x, &layer.v).view([b, t, nkv, hd]).transpose(1, 2);
            if let Some(cache) = cache.as_deref_mut() {
                (k, v) = cache.extend(i, k, v);
            }
            let (k, v) = (repeat_kv(&k, nh / nkv), repeat_kv(&v, nh / nkv));
            let a = attention(&q, &k, &v, attend)?;
            let a = a.transpose(1, 2).contiguous().view([b, t, nh * hd]);
            h = h + linear(&a, &layer.o);
            let x = self.rms_norm(&h, &layer.post_norm);
            h = h + linear(&(linear(&x, &layer.gate).silu() * linear(&x, &layer.up)), &layer.down);
        }
        if let Some(cache) = cache {
            cache.len += t as usize;
        }
        Ok(self.rms_norm(&h, &self.norm))
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

/// GGUF tensor names (llama.cpp's `LLM_TENSOR_NAMES` for llama) → transformers' names.
fn hf_name(gguf: &str) -> Option<String> {
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
                "ffn_norm" => "post_attention_layernorm",
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

causal_net!(Llama);

/// The registry's loader for Hugging Face folders of `model_type: llama`.
pub fn load_hf(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let config = LlamaConfig::from_hf(&folder)?;
    let net = Llama::load_hf(config, super::checked_checkpoint(&folder)?, t.device, t.kind)?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}

/// The registry's loader for GGUF files of `general.architecture: llama`. The configuration and
/// tokenizer are checked before any tensor is dequantized.
pub fn load_gguf(file: Gguf, t: Runtime<'_>) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let config = LlamaConfig::from_gguf(&file)?;
    let tokenizer = crate::models::neural::gguf::tokenizer::from_gguf(&file)?;
    let net = Llama::load_gguf(&file, config, t.device, t.kind)?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}
