//! The `{arch}.*` metadata every GGUF decoder file shares, read as llama.cpp reads it, for the
//! architecture readers beside this file.

use super::{DecoderConfig, PairLayout, RopeScaling};
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;

/// The `{arch}.*` keys every GGUF decoder shares, as llama.cpp reads them: sizes (the head size
/// from `attention.key_length`, else `embedding_length / head_count`), norm epsilon, rope base,
/// the vocabulary from the tokenizer, the output tied when the file has no `output.weight`.
/// Rope scaling other than none is refused unless `linear` is in `scalings`.
pub fn gguf_common(
    file: &crate::models::neural::gguf::Gguf,
    key_prefix: &str,
    arch: &'static str,
    scalings: &[&str],
) -> Result<DecoderConfig, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let key = |k: &str| format!("{key_prefix}.{k}");
    let int = |k: &str| file.require_usize(&key(k));
    let opt_int = |k: &str| file.opt_usize(&key(k));
    let float = |k: &str| file.opt_f64(&key(k));
    let (hidden, heads, layers) = (int("embedding_length")?, int("attention.head_count")?, int("block_count")?);
    for (k, v) in [("embedding_length", hidden), ("attention.head_count", heads), ("block_count", layers)] {
        if v == 0 {
            return Err(err(format!("{key_prefix}.{k} is 0; it must be a positive count")));
        }
    }
    // Both computes build exactly `block_count` layers: a file storing more would run a
    // truncated network in one and be refused in the other.
    let stored = file.stored_layers();
    if stored != layers {
        return Err(err(format!(
            "{key_prefix}.block_count is {layers} but the file stores {stored} layers (tensors blk.0 … blk.{}): the metadata and the tensors disagree",
            stored.saturating_sub(1)
        )));
    }
    let head_dim = opt_int("attention.key_length")?.unwrap_or(hidden / heads);
    if let Some(v) = opt_int("attention.value_length")?.filter(|&v| v != head_dim) {
        return Err(err(format!("{key_prefix}.attention.value_length {v} differs from the key length {head_dim}")));
    }
    if let Some(r) = opt_int("rope.dimension_count")?.filter(|&r| r != head_dim) {
        return Err(err(format!(
            "{key_prefix}.rope.dimension_count {r} differs from the head size {head_dim} (partial rotary embeddings are not supported)"
        )));
    }
    let kind = file.opt_str(&key("rope.scaling.type"))?.unwrap_or("none");
    let factor = float("rope.scaling.factor")?;
    let rope_scaling = match (kind, factor) {
        ("none", _) | (_, Some(1.0)) => RopeScaling::None,
        ("linear", Some(f)) if scalings.contains(&"linear") && f.is_finite() && f > 0.0 => {
            RopeScaling::Linear { factor: f }
        }
        ("linear", None) if scalings.contains(&"linear") => {
            return Err(err(format!("{key_prefix}.rope.scaling.factor is missing (rope scaling linear needs it)")));
        }
        (other, _) => {
            let mut supported = vec!["none"];
            supported.extend(scalings);
            return Err(err(format!(
                "{key_prefix}.rope.scaling.type {other:?} (factor {}) is not supported (supported: {})",
                factor.map_or("none".into(), |f| f.to_string()),
                supported.join(", ")
            )));
        }
    };
    Ok(DecoderConfig {
        arch,
        hidden,
        intermediate: int("feed_forward_length")?,
        layers,
        heads,
        kv_heads: opt_int("attention.head_count_kv")?.unwrap_or(heads),
        head_dim,
        vocab: file.require_array("tokenizer.ggml.tokens")?.len(),
        context: int("context_length")?,
        rms_eps: float("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5),
        rope_theta: float("rope.freq_base")?.unwrap_or(10_000.0),
        rope_scaling,
        tied: file.tensor("output.weight").is_none(),
        qkv_bias: file.tensor("blk.0.attn_q.bias").is_some(),
        o_bias: file.tensor("blk.0.attn_output.bias").is_some(),
        mlp_bias: false,
        fused: false,
        activation: Activation::Silu,
        window: None,
        local: vec![false; layers.min(1025)],
        local_rope_theta: None,
        qk_norm: false,
        gemma: None,
        pairs: PairLayout::Halves,
    })
}
