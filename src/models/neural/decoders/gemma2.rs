//! Gemma 2 (`model_type: gemma2`), as transformers 4.46's `Gemma2ForCausalLM` computes it with
//! its default (eager) attention: the embedding scaled by `sqrt(hidden_size)`, RMS norms that
//! scale by `1 + w`, a norm before and after both attention and the GeGLU MLP (tanh GELU),
//! queries scaled by `query_pre_attn_scalar^-1/2`, attention scores soft-capped by
//! `attn_logit_softcapping` and the final logits by `final_logit_softcapping` (`cap ·
//! tanh(x / cap)`), and local attention with a `sliding_window` in the even layers (0, 2, …),
//! global attention in the odd ones. Defaults are Gemma2Config's.
//!
//! GGUF files (`general.architecture: gemma2`) are read as llama.cpp reads them: the window
//! (`gemma2.attention.sliding_window`, default 4,096) in the layers `set_swa_pattern(2)` marks
//! (even ones, unless `attention.sliding_window_pattern` says otherwise), soft-caps from
//! `attn_logit_softcapping` / `final_logit_softcapping` (defaults 50 and 30), queries scaled by
//! `1/sqrt(key_length)` (27B's 46 layers: `1/sqrt(hidden/heads)`) whatever the checkpoint's
//! `query_pre_attn_scalar` was, the output tied to the embedding.

use super::{DecoderConfig, GemmaStyle, Keys, common, finish, gguf_common};
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if keys.get("rope_scaling").is_some() {
        return Err(keys.err("rope_scaling is not supported for gemma2 (transformers' Gemma 2 has none)".into()));
    }
    let mut c = common(&keys, "Gemma 2", true, 1e-6)?;
    c.head_dim = keys.count_or("head_dim", 256)?;
    let key = if keys.get("hidden_activation").is_some() { "hidden_activation" } else { "hidden_act" };
    c.activation = keys.activation(key, "gelu_pytorch_tanh", &["gelu_pytorch_tanh", "gelu_new", "gelu_fast"])?;
    let bias = keys.flag("attention_bias", false)?;
    (c.qkv_bias, c.o_bias) = (bias, bias);
    c.window = Some(keys.count_or("sliding_window", 4096)?);
    c.local = (0..c.layers.min(1025)).map(|i| i % 2 == 0).collect();
    // An absent key takes Gemma2Config's default; an explicit `null` turns soft-capping off.
    let cap = |key: &str, default: f64| -> Result<Option<f64>, NeuralError> {
        match folder.config.get(key) {
            None => Ok(Some(default)),
            Some(serde_json::Value::Null) => Ok(None),
            Some(_) => keys.float_or(key, default).map(Some),
        }
    };
    c.gemma = Some(GemmaStyle {
        query_pre_attn_scalar: keys.float_or("query_pre_attn_scalar", 224.0)?,
        attn_softcap: cap("attn_logit_softcapping", 50.0)?,
        final_softcap: cap("final_logit_softcapping", 30.0)?,
    });
    finish(&keys, c)
}

pub fn from_gguf(file: &Gguf) -> Result<DecoderConfig, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let key = |k: &str| format!("gemma2.{k}");
    let float = |k: &str| file.opt_f64(&key(k));
    let mut c = gguf_common(file, "gemma2", "Gemma 2", &[])?;
    if file.get(&key("attention.layer_norm_rms_epsilon")).is_none() {
        return Err(err("gemma2.attention.layer_norm_rms_epsilon is missing".into()));
    }
    c.tied = true;
    c.activation = Activation::GeluTanh;
    c.window = Some(file.opt_u64(&key("attention.sliding_window"))?.map_or(4096, |v| v as usize));
    let pattern = match file.get(&key("attention.sliding_window_pattern")) {
        None => 2,
        Some(v) => v.as_u64().map(|v| v as usize).ok_or_else(|| {
            err("gemma2.attention.sliding_window_pattern: only a count is supported for gemma2".into())
        })?,
    };
    c.local = (0..c.layers.min(1025)).map(|i| pattern == 0 || i % pattern < pattern - 1).collect();
    c.local_rope_theta = float("rope.freq_base_swa")?.filter(|&b| b != c.rope_theta);
    let scalar = if c.layers == 46 { (c.hidden / c.heads) as f64 } else { c.head_dim as f64 };
    c.gemma = Some(GemmaStyle {
        query_pre_attn_scalar: scalar,
        attn_softcap: Some(float("attn_logit_softcapping")?.unwrap_or(50.0)).filter(|&v| v != 0.0),
        final_softcap: Some(float("final_logit_softcapping")?.unwrap_or(30.0)).filter(|&v| v != 0.0),
    });
    c.check().map_err(err)?;
    Ok(c)
}
