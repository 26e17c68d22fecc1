//! Llama (`model_type: llama`, GGUF `general.architecture: llama`), as transformers 4.46's
//! `LlamaForCausalLM` computes it: SwiGLU MLP, rotary embeddings over the whole head, optional
//! biases on the attention (`attention_bias`: all four projections) and the MLP (`mlp_bias`),
//! and `rope_scaling` of type `linear`, `dynamic` or `llama3` (Llama 3.1/3.2). GGUF files are read
//! as llama.cpp reads them: `llama.rope.scaling.type: linear` divides positions by the factor,
//! and Llama 3.1's scaling comes as the per-frequency divisors of the `rope_freqs` tensor.

use super::{DecoderConfig, Keys, PairLayout, RopeScaling, common, finish, gguf_common};
use crate::models::neural::NeuralError;
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if let Some(act) = keys.opt_str("hidden_act")?.filter(|a| *a != "silu") {
        return Err(keys.err(format!("hidden_act {act:?} is not supported (Llama uses silu)")));
    }
    if keys.count_or("pretraining_tp", 1)? > 1 {
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
    let arch = file.require_str("general.architecture")?;
    if arch != "llama" {
        return Err(err(format!("general.architecture {arch:?} is not supported (supported: llama)")));
    }
    let mut c = gguf_common(file, "llama", "Llama", &["linear"])?;
    if let Some(v) = file.opt_usize("llama.vocab_size")? {
        c.vocab = v;
    }
    c.pairs = PairLayout::Adjacent;
    if let Some(info) = file.tensor("rope_freqs.weight") {
        let half = c.head_dim / 2;
        if info.dims != [half as u64] {
            return Err(err(format!("tensor rope_freqs.weight has shape {:?}, expected [{half}]", info.dims)));
        }
        if c.rope_scaling != RopeScaling::None {
            return Err(err("rope_freqs.weight together with llama.rope.scaling.type is not supported".into()));
        }
        let factors: Vec<f64> = file.dequantize(info).into_iter().map(f64::from).collect();
        if let Some((i, f)) = factors.iter().enumerate().find(|(_, f)| !(f.is_finite() && **f > 0.0)) {
            return Err(err(format!("rope_freqs.weight[{i}] is {f}; frequency factors must be positive")));
        }
        c.rope_scaling = RopeScaling::FreqFactors { factors };
    }
    c.check().map_err(err)?;
    Ok(c)
}
