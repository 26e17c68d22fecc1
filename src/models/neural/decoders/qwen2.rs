//! Qwen2 and Qwen2.5 (`model_type: qwen2`), as transformers 4.46's `Qwen2ForCausalLM` computes
//! them: the Llama block with biases on the query, key and value projections (not on the output
//! projection), tied or untied output (Qwen2.5-0.5B ties, 7B does not), `rope_scaling` as Llama's.
//!
//! `use_sliding_window: true` is refused: transformers 4.46 applies Qwen2's window to every layer
//! under its eager and SDPA attention but only to the layers from `max_window_layers` on under
//! flash attention, so the checkpoint's intended numbers are not one thing to reproduce.
//!
//! GGUF files (`general.architecture: qwen2`) are read as llama.cpp reads them: the biases are
//! tensors of the file, the rotary pairs are the two halves of each head (llama.cpp's NEOX rope;
//! convert_hf_to_gguf.py does not permute Qwen2's rows), no rope scaling.

use super::{DecoderConfig, Keys, common, finish, gguf_common};
use crate::models::neural::NeuralError;
use crate::models::neural::gguf::Gguf;
use crate::models::neural::hf::ModelFolder;

pub fn from_hf(folder: &ModelFolder) -> Result<DecoderConfig, NeuralError> {
    let keys = Keys::new(folder);
    if let Some(act) = keys.opt_str("hidden_act")?.filter(|a| *a != "silu") {
        return Err(keys.err(format!("hidden_act {act:?} is not supported (Qwen2 uses silu)")));
    }
    if keys.flag("use_sliding_window", false)? {
        return Err(keys.err(
            "use_sliding_window true is not supported for qwen2 (transformers applies the window differently by attention implementation)"
                .into(),
        ));
    }
    let mut c = common(&keys, "Qwen2", false, 1e-6)?;
    c.rope_scaling = keys.rope_scaling(&["linear", "dynamic", "llama3"], c.context, c.head_dim)?;
    c.qkv_bias = true;
    finish(&keys, c)
}

pub fn from_gguf(file: &Gguf) -> Result<DecoderConfig, NeuralError> {
    let c = gguf_common(file, "qwen2", "Qwen2", &[])?;
    if !c.qkv_bias {
        return Err(NeuralError::file(&file.path, "blk.0.attn_q.bias is missing (Qwen2 has query/key/value biases)"));
    }
    c.check().map_err(|m| NeuralError::file(&file.path, m))?;
    Ok(c)
}
