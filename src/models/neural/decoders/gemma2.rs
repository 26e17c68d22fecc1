//! Gemma 2 (`model_type: gemma2`), as transformers 4.46's `Gemma2ForCausalLM` computes it with
//! its default (eager) attention: the embedding scaled by `sqrt(hidden_size)`, RMS norms that
//! scale by `1 + w`, a norm before and after both attention and the GeGLU MLP (tanh GELU),
//! queries scaled by `query_pre_attn_scalar^-1/2`, attention scores soft-capped by
//! `attn_logit_softcapping` and the final logits by `final_logit_softcapping` (`cap ·
//! tanh(x / cap)`), and local attention with a `sliding_window` in the even layers (0, 2, …),
//! global attention in the odd ones. Defaults are Gemma2Config's.

use super::{DecoderConfig, GemmaStyle, Keys, common, finish};
use crate::models::neural::NeuralError;
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
