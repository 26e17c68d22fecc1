//! Mistral (`model_type: mistral`), as transformers 4.46's `MistralForCausalLM` computes it: the
//! Llama block without biases, an explicit `head_dim` where given, and sliding-window attention
//! in every layer when `sliding_window` is set (a query sees itself and the `sliding_window − 1`
//! positions before it; Mistral 7B v0.1 uses 4,096, later versions turn it off with `null`).
//! transformers' Mistral has no rope scaling: a `rope_scaling` key is refused rather than ignored.

use serde_json::Value;

use super::{DecoderConfig, Keys, common, finish};
use crate::models::neural::NeuralError;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if let Some(act) = keys.opt_str("hidden_act")?.filter(|a| *a != "silu") {
        return Err(keys.err(format!("hidden_act {act:?} is not supported (Mistral uses silu)")));
    }
    if keys.get("rope_scaling").is_some() {
        return Err(keys.err("rope_scaling is not supported for mistral (transformers' Mistral has none)".into()));
    }
    let mut c = common(&keys, "Mistral", false, 1e-6)?;
    // MistralConfig's default window, when the key is absent; `null` turns it off.
    c.window = match folder.config.get("sliding_window") {
        None => Some(4096),
        Some(Value::Null) => None,
        Some(_) => Some(keys.count("sliding_window")?),
    };
    c.local = vec![true; c.layers.min(1025)];
    finish(&keys, c)
}
