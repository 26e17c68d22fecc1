//! Phi-3 (`model_type: phi3`), as transformers 4.46's `Phi3ForCausalLM` computes it: the Llama
//! block with the query, key and value projections stored as one `qkv_proj` matrix and the gate
//! and up projections as one `gate_up_proj` (split when loaded), sliding-window attention in every
//! layer when `sliding_window` is set, and `rope_scaling` of type `longrope` (Phi-3 128k, Phi-3.5):
//! per-frequency factors chosen by the length of the sequence (short factors up to
//! `original_max_position_embeddings` positions, long ones beyond) and cos/sin scaled by
//! `sqrt(1 + ln(max_position_embeddings / original) / ln(original))`.

use super::{DecoderConfig, Keys, common, finish};
use crate::models::neural::NeuralError;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if let Some(act) = keys.opt_str("hidden_act")?.filter(|a| *a != "silu") {
        return Err(keys.err(format!("hidden_act {act:?} is not supported (Phi-3 uses silu)")));
    }
    if keys.opt_float("partial_rotary_factor")?.is_some_and(|f| f != 1.0) {
        return Err(keys
            .err("partial_rotary_factor below 1 is not supported (rotary embeddings over the whole head are)".into()));
    }
    let mut c = common(&keys, "Phi-3", false, 1e-5)?;
    if keys.get("head_dim").is_some() && c.head_dim != c.hidden / c.heads {
        return Err(keys.err(format!(
            "head_dim {} differs from hidden_size / num_attention_heads = {} (Phi-3 derives it)",
            c.head_dim,
            c.hidden / c.heads
        )));
    }
    c.rope_scaling = keys.rope_scaling(&["longrope", "su"], c.context, c.head_dim)?;
    c.fused = true;
    c.window = keys.get("sliding_window").map(|_| keys.count("sliding_window")).transpose()?;
    c.local = vec![true; c.layers.min(1025)];
    finish(&keys, c)
}
