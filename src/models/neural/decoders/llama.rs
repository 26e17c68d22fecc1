//! Llama (`model_type: llama`, GGUF `general.architecture: llama`), as transformers 4.46's
//! `LlamaForCausalLM` computes it: SwiGLU MLP, rotary embeddings over the whole head, optional
//! biases on the attention (`attention_bias`: all four projections) and the MLP (`mlp_bias`),
//! and `rope_scaling` of type `linear`, `dynamic` or `llama3` (Llama 3.1/3.2). GGUF files are read
//! without rope scaling (llama.cpp stores Llama 3.1's as a `rope_freqs` tensor, refused by name).

use serde_json::Value;

use super::{DecoderConfig, Keys, RopeScaling, common, finish};
use crate::models::neural::NeuralError;
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if let Some(act) = keys.get("hidden_act").and_then(Value::as_str).filter(|a| *a != "silu") {
        return Err(keys.err(format!("hidden_act {act:?} is not supported (Llama uses silu)")));
    }
    if keys.get("pretraining_tp").and_then(Value::as_i64).is_some_and(|tp| tp > 1) {
        return Err(keys.err("pretraining_tp > 1 is not supported".into()));
    }
    // LlamaConfig's default is untied.
    let mut c = common(&keys, "Llama", false, 1e-6)?;
    c.rope_scaling = keys.rope_scaling(&["linear", "dynamic", "llama3"], c.context, c.head_dim)?;
    let attention_bias = keys.flag("attention_bias", false)?;
    (c.qkv_bias, c.o_bias) = (attention_bias, attention_bias);
    c.mlp_bias = keys.flag("mlp_bias", false)?;
    finish(&keys, c)
}

pub fn from_gguf(file: &Gguf) -> Result<DecoderConfig, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let arch = file.require("general.architecture")?.as_str().unwrap_or_default();
    if arch != "llama" {
        return Err(err(format!("general.architecture {arch:?} is not supported (supported: llama)")));
    }
    let int = |k: &str| file.require_u64(&format!("llama.{k}")).map(|v| v as usize);
    let heads = int("attention.head_count")?;
    let hidden = int("embedding_length")?;
    // Counts first: a zero would otherwise surface as a confusing derived mismatch.
    for (key, v) in [("llama.attention.head_count", heads), ("llama.embedding_length", hidden)] {
        if v == 0 {
            return Err(err(format!("{key} is 0; it must be a positive count")));
        }
    }
    let head_dim = hidden / heads;
    if let Some(rot) =
        file.get("llama.rope.dimension_count").and_then(|v| v.as_u64()).filter(|&r| r as usize != head_dim)
    {
        return Err(err(format!(
            "llama.rope.dimension_count {rot} differs from the head size {head_dim} (partial rotary embeddings are not supported)"
        )));
    }
    if let Some(kind) = file.get("llama.rope.scaling.type").and_then(|v| v.as_str()).filter(|k| *k != "none") {
        return Err(err(format!("llama.rope.scaling.type {kind:?} is not supported (supported: none)")));
    }
    if file.tensor("rope_freqs.weight").is_some() {
        return Err(err("rope_freqs.weight (Llama-3.1 rope scaling) is not supported in GGUF files".into()));
    }
    let vocab = match file.get("llama.vocab_size").and_then(|v| v.as_u64()) {
        Some(v) => v as usize,
        None => {
            file.require("tokenizer.ggml.tokens")?.as_array().map_or(0, crate::models::neural::gguf::MetaArray::len)
        }
    };
    let f = |k: &str, default: f64| file.get(&format!("llama.{k}")).and_then(|v| v.as_f64()).unwrap_or(default);
    let layers = int("block_count")?;
    let bias = file.tensor("blk.0.attn_q.bias").is_some();
    let config = DecoderConfig {
        arch: "Llama",
        hidden,
        intermediate: int("feed_forward_length")?,
        layers,
        heads,
        kv_heads: file.get("llama.attention.head_count_kv").and_then(|v| v.as_u64()).map_or(heads, |v| v as usize),
        head_dim,
        vocab,
        context: int("context_length")?,
        rms_eps: f("attention.layer_norm_rms_epsilon", 1e-5),
        rope_theta: f("rope.freq_base", 10_000.0),
        rope_scaling: RopeScaling::None,
        tied: file.tensor("output.weight").is_none(),
        qkv_bias: bias,
        o_bias: file.tensor("blk.0.attn_output.bias").is_some(),
        mlp_bias: false,
        fused: false,
        activation: crate::models::neural::activation::Activation::Silu,
        window: None,
        local: vec![false; layers.min(1025)],
        local_rope_theta: None,
        qk_norm: false,
        gemma: None,
        pairs: super::PairLayout::Adjacent,
    };
    config.check().map_err(err)?;
    Ok(config)
}
