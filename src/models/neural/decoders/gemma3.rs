//! Gemma 3's text model (`model_type: gemma3_text`, GGUF `general.architecture: gemma3`): Gemma
//! 2's block (embedding scaled by `sqrt(hidden)`, norms scaling by `1 + w`, a norm before and
//! after attention and the GeGLU MLP) with RMS norms of each query and key head before the
//! rotary embedding, no soft-capping by default, and five sliding-window layers for every global
//! one (layer `i` is local unless `(i + 1) % 6 == 0`), the local layers with their own rope base
//! (`rope_local_base_freq`, 10,000) and no rope scaling.
//!
//! From GGUF files the configuration is llama.cpp's reading of the same keys: the window
//! pattern from `gemma3.attention.sliding_window_pattern` (a count, or one flag per layer) or 6,
//! the local rope base from `gemma3.rope.freq_base_swa` or 10,000, queries scaled by
//! `1/sqrt(key_length)` (27B's 62 layers: `1/sqrt(hidden/heads)`), as llama.cpp's
//! `f_attention_scale`; `gemma3.rope.scaling.type: linear` (Gemma 3 4B and larger) scales the
//! global layers' positions by `1/factor`, as llama.cpp's `freq_scale`.

use super::{DecoderConfig, GemmaStyle, Keys, common, finish, gguf_common};
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;
use crate::models::neural::gguf::{Gguf, MetaArray, MetaValue};
use crate::models::neural::hf::ModelFolder;

/// Gemma 3's default window pattern: one global layer after every five local ones.
const PATTERN: usize = 6;
const LOCAL_ROPE_BASE: f64 = 10_000.0;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    let mut c = common(&keys, "Gemma 3", true, 1e-6)?;
    c.head_dim = keys.count_or("head_dim", 256)?;
    c.rope_theta = keys.float_or("rope_theta", 1_000_000.0)?;
    c.rope_scaling = keys.rope_scaling(&["linear"], c.context, c.head_dim)?;
    c.local_rope_theta = Some(keys.float_or("rope_local_base_freq", LOCAL_ROPE_BASE)?);
    let key = if keys.get("hidden_activation").is_some() { "hidden_activation" } else { "hidden_act" };
    c.activation = keys.activation(key, "gelu_pytorch_tanh", &["gelu_pytorch_tanh", "gelu_new", "gelu_fast"])?;
    let bias = keys.flag("attention_bias", false)?;
    (c.qkv_bias, c.o_bias) = (bias, bias);
    c.qk_norm = true;
    c.window = Some(keys.count_or("sliding_window", 4096)?);
    c.local =
        match keys
            .get("layer_types")
            .map(|v| v.as_array().ok_or_else(|| keys.err(format!("\"layer_types\" is {v}, not a list"))))
            .transpose()?
        {
            Some(kinds) => kinds
                .iter()
                .enumerate()
                .map(|(i, k)| match k.as_str() {
                    Some("sliding_attention") => Ok(true),
                    Some("full_attention") => Ok(false),
                    _ => Err(keys
                        .err(format!("layer_types[{i}] is {k}; supported: \"sliding_attention\", \"full_attention\""))),
                })
                .collect::<Result<_, _>>()?,
            None => {
                let pattern = keys.count_or("sliding_window_pattern", PATTERN)?;
                if pattern == 0 {
                    return Err(keys.err("sliding_window_pattern is 0; it must be a positive count".into()));
                }
                (0..c.layers.min(1025)).map(|i| (i + 1) % pattern != 0).collect()
            }
        };
    let cap = |key: &str| keys.opt_float(key);
    c.gemma = Some(GemmaStyle {
        query_pre_attn_scalar: keys.float_or("query_pre_attn_scalar", 256.0)?,
        attn_softcap: cap("attn_logit_softcapping")?,
        final_softcap: cap("final_logit_softcapping")?,
    });
    finish(&keys, c)
}

pub fn from_gguf(file: &Gguf) -> Result<DecoderConfig, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let arch = file.require_str("general.architecture")?;
    if arch != "gemma3" {
        return Err(err(format!("general.architecture {arch:?} is not gemma3")));
    }
    let key = |k: &str| format!("gemma3.{k}");
    let opt_int = |k: &str| file.opt_usize(&key(k));
    let float = |k: &str| file.opt_f64(&key(k));
    let mut c = gguf_common(file, "gemma3", "Gemma 3", &["linear"])?;
    if file.get(&key("attention.layer_norm_rms_epsilon")).is_none() {
        return Err(err("gemma3.attention.layer_norm_rms_epsilon is missing".into()));
    }
    let (hidden, heads, layers, head_dim) = (c.hidden, c.heads, c.layers, c.head_dim);
    let window = opt_int("attention.sliding_window")?.filter(|&w| w > 0);
    let local: Vec<bool> = match file.get(&key("attention.sliding_window_pattern")) {
        Some(MetaValue::Array(flags)) => {
            if flags.len() != layers {
                return Err(err(format!(
                    "gemma3.attention.sliding_window_pattern has {} flags for {layers} layers",
                    flags.len()
                )));
            }
            let flag = |i: usize| match flags {
                MetaArray::Bool(v) => v.get(i).copied(),
                _ => flags.u64_at(i).map(|v| v != 0),
            };
            (0..layers)
                .map(|i| {
                    flag(i).ok_or_else(|| {
                        err(format!("gemma3.attention.sliding_window_pattern[{i}] is not a flag or an integer"))
                    })
                })
                .collect::<Result<_, _>>()?
        }
        None => (0..layers.min(1025)).map(|i| i % PATTERN < PATTERN - 1).collect(),
        Some(other) => {
            let n = other.as_usize().ok_or_else(|| {
                err(format!(
                    "gemma3.attention.sliding_window_pattern is {} {other}; it must be a count or an array of flags",
                    other.type_name()
                ))
            })?;
            // llama.cpp's `set_swa_pattern`: a pattern of 0 makes every layer local.
            (0..layers.min(1025)).map(|i| n == 0 || i % n < n - 1).collect()
        }
    };
    let query_pre_attn_scalar = if layers == 62 { (hidden / heads) as f64 } else { head_dim as f64 };
    c.activation = Activation::GeluTanh;
    c.window = window;
    c.local = local;
    let local_base = float("rope.freq_base_swa")?.unwrap_or(LOCAL_ROPE_BASE);
    c.local_rope_theta = window.map(|_| local_base);
    c.qk_norm = true;
    c.gemma = Some(GemmaStyle {
        query_pre_attn_scalar,
        attn_softcap: None,
        final_softcap: float("final_logit_softcapping")?.filter(|&c| c != 0.0),
    });
    let config = c;
    config.check().map_err(err)?;
    Ok(config)
}
