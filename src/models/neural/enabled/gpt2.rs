//! GPT-2 (`model_type: gpt2`) on rust-bert: config from config.json, load, forward to logits.
//!
//! rust-bert's `Gpt2Config` needs `n_ctx` and `afn`, which current config.json files spell
//! `n_positions` and `activation_function`; Hugging Face checkpoints may lack the `transformer.`
//! prefix, store `lm_head.weight` (tied to `wte`) and the attention mask buffers, all of which
//! are mapped or dropped here. rust-bert keeps its own causal mask when the file has none.

use rust_bert::gpt2::{GPT2LMHeadModel, Gpt2Config};
use serde_json::Value;
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::weights::Checkpoint;
use crate::models::neural::hf::ModelFolder;
use crate::models::neural::NeuralError;

pub struct Gpt2 {
    model: GPT2LMHeadModel,
    _vs: VarStore,
    pub context: usize,
    pub vocab: usize,
    pub summary: String,
}

impl Gpt2 {
    pub fn load(folder: &ModelFolder, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let config = config(folder)?;
        let mut vs = VarStore::new(Device::Cpu);
        let model = GPT2LMHeadModel::new(vs.root(), &config);
        let mut ckpt = Checkpoint::read(&folder.weights)?;
        ckpt.rename(|name| {
            if name == "lm_head.weight" || name.ends_with(".attn.masked_bias") || name.ends_with(".attn.bias") && !name.contains("c_attn") {
                return None;
            }
            Some(if name.starts_with("transformer.") { name.to_owned() } else { format!("transformer.{name}") })
        });
        ckpt.assign(&vs, |name| name.ends_with(".attn.bias"))?;
        vs.set_kind(kind);
        vs.set_device(device);
        let params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        let summary = format!(
            "GPT-2 causal LM: {} layers, d={}, {} heads, context {}, vocab {}, {:.1}M parameters",
            config.n_layer,
            config.n_embd,
            config.n_head,
            config.n_positions,
            config.vocab_size,
            params as f64 / 1e6
        );
        Ok(Gpt2 { model, _vs: vs, context: config.n_positions as usize, vocab: config.vocab_size as usize, summary })
    }

    /// Logits `[batch, seq, vocab]` of right-padded `input` `[batch, seq]`: positions start at 0
    /// and attention is causal, so padding after a sequence never changes its logits.
    pub fn logits(&self, input: &Tensor) -> Result<Tensor, NeuralError> {
        let out = self
            .model
            .forward_t(Some(input), None, None, None, None, None, false)
            .map_err(|e| NeuralError::Torch(e.to_string()))?;
        Ok(out.lm_logits)
    }
}

/// rust-bert's config from config.json, with the keys it names differently patched in.
fn config(folder: &ModelFolder) -> Result<Gpt2Config, NeuralError> {
    let mut v = folder.config.clone();
    let obj = v.as_object_mut().ok_or_else(|| NeuralError::file(&folder.config_path(), "config.json is not an object"))?;
    for key in ["n_positions", "n_embd", "n_layer", "n_head", "vocab_size"] {
        folder.int(key)?;
    }
    if !obj.contains_key("n_ctx") {
        obj.insert("n_ctx".into(), obj["n_positions"].clone());
    }
    let afn = obj.get("activation_function").and_then(Value::as_str).unwrap_or("gelu_new").to_owned();
    if !["gelu_new", "gelu", "relu", "swish", "tanh"].contains(&afn.as_str()) {
        return Err(NeuralError::file(&folder.config_path(), format!("activation_function {afn:?} is not supported")));
    }
    obj.insert("afn".into(), Value::String(afn));
    obj.insert("output_past".into(), Value::Bool(false));
    obj.entry("layer_norm_epsilon").or_insert(Value::from(1e-5));
    obj.entry("initializer_range").or_insert(Value::from(0.02));
    let n_embd = folder.int("n_embd")?;
    let n_head = folder.int("n_head")?;
    if n_head <= 0 || n_embd % n_head != 0 {
        return Err(NeuralError::file(&folder.config_path(), format!("n_embd {n_embd} is not a multiple of n_head {n_head}")));
    }
    if obj.get("n_inner").is_some_and(|v| !v.is_null()) {
        return Err(NeuralError::file(&folder.config_path(), "n_inner other than null (4·n_embd) is not supported by rust-bert's GPT-2"));
    }
    if obj.get("scale_attn_by_inverse_layer_idx").and_then(Value::as_bool) == Some(true)
        || obj.get("reorder_and_upcast_attn").and_then(Value::as_bool) == Some(true)
    {
        return Err(NeuralError::file(&folder.config_path(), "scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported"));
    }
    serde_json::from_value(v).map_err(|e| NeuralError::file(&folder.config_path(), format!("not a GPT-2 config: {e}")))
}
