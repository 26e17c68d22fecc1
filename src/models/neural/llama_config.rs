//! The shape of a Llama-family causal LM, from a Hugging Face `config.json` (`model_type: llama`)
//! or from GGUF metadata (`general.architecture: llama`, keys `llama.*`). Plain Rust: a build
//! without libtorch still reads and reports it.
//!
//! Only what transformers' `LlamaForCausalLM` computes with the defaults is accepted: SiLU MLP,
//! plain rotary embeddings over the whole head (no `rope_scaling`, no partial rotary). Anything
//! else is refused by name rather than run with different numbers.

use serde_json::Value;

use super::NeuralError;
use super::gguf::Gguf;
use super::hf::ModelFolder;

#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub context: usize,
    pub rms_eps: f64,
    pub rope_theta: f64,
    pub tied: bool,
    pub attention_bias: bool,
    pub mlp_bias: bool,
}

impl LlamaConfig {
    pub fn from_hf(folder: &ModelFolder) -> Result<Self, NeuralError> {
        let path = folder.config_path();
        let err = |m: String| NeuralError::file(&path, m);
        let c = &folder.config;
        let int =
            |k: &str| folder.int(k).and_then(|v| usize::try_from(v).map_err(|_| err(format!("\"{k}\" is negative"))));
        let heads = int("num_attention_heads")?;
        let hidden = int("hidden_size")?;
        if let Some(act) = c.get("hidden_act").and_then(Value::as_str).filter(|a| *a != "silu") {
            return Err(err(format!("hidden_act {act:?} is not supported (Llama uses silu)")));
        }
        if c.get("rope_scaling").is_some_and(|v| !v.is_null()) {
            return Err(err("rope_scaling is not supported (only plain rotary embeddings are)".into()));
        }
        if c.get("pretraining_tp").and_then(Value::as_i64).is_some_and(|tp| tp > 1) {
            return Err(err("pretraining_tp > 1 is not supported".into()));
        }
        let flag = |k: &str, default: bool| c.get(k).and_then(Value::as_bool).unwrap_or(default);
        let config = LlamaConfig {
            hidden,
            intermediate: int("intermediate_size")?,
            layers: int("num_hidden_layers")?,
            heads,
            kv_heads: folder.opt_int("num_key_value_heads").map_or(Ok(heads), |_| int("num_key_value_heads"))?,
            head_dim: folder.opt_int("head_dim").map_or(Ok(hidden / heads.max(1)), |_| int("head_dim"))?,
            vocab: int("vocab_size")?,
            context: int("max_position_embeddings")?,
            rms_eps: c.get("rms_norm_eps").and_then(Value::as_f64).unwrap_or(1e-6),
            rope_theta: c.get("rope_theta").and_then(Value::as_f64).unwrap_or(10_000.0),
            // LlamaConfig's default is untied.
            tied: flag("tie_word_embeddings", false),
            attention_bias: flag("attention_bias", false),
            mlp_bias: flag("mlp_bias", false),
        };
        config.check().map_err(err)?;
        Ok(config)
    }

    pub fn from_gguf(file: &Gguf) -> Result<Self, NeuralError> {
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
            return Err(err(format!("llama.rope.scaling.type {kind:?} is not supported")));
        }
        if file.tensor("rope_freqs.weight").is_some() {
            return Err(err("rope_freqs.weight (Llama-3.1 rope scaling) is not supported".into()));
        }
        let vocab = match file.get("llama.vocab_size").and_then(|v| v.as_u64()) {
            Some(v) => v as usize,
            None => file.require("tokenizer.ggml.tokens")?.as_array().map_or(0, super::gguf::MetaArray::len),
        };
        let f = |k: &str, default: f64| file.get(&format!("llama.{k}")).and_then(|v| v.as_f64()).unwrap_or(default);
        let config = LlamaConfig {
            hidden,
            intermediate: int("feed_forward_length")?,
            layers: int("block_count")?,
            heads,
            kv_heads: file.get("llama.attention.head_count_kv").and_then(|v| v.as_u64()).map_or(heads, |v| v as usize),
            head_dim,
            vocab,
            context: int("context_length")?,
            rms_eps: f("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta: f("rope.freq_base", 10_000.0),
            tied: file.tensor("output.weight").is_none(),
            attention_bias: file.tensor("blk.0.attn_q.bias").is_some(),
            mlp_bias: false,
        };
        config.check().map_err(err)?;
        Ok(config)
    }

    /// Sizes a crafted file could make absurd, refused before any tensor is allocated.
    fn check(&self) -> Result<(), String> {
        let nonzero = [
            ("hidden size", self.hidden),
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv heads", self.kv_heads),
            ("vocabulary", self.vocab),
            ("context", self.context),
            ("intermediate size", self.intermediate),
            ("head size", self.head_dim),
        ];
        if let Some((name, _)) = nonzero.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} is zero"));
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return Err(format!(
                "{} attention heads are not a multiple of {} key/value heads",
                self.heads, self.kv_heads
            ));
        }
        for (name, v) in [("rms_norm_eps", self.rms_eps), ("rope_theta", self.rope_theta)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} is {v}; it must be a positive finite number"));
            }
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(format!("head size {} is odd (rotary embeddings rotate pairs)", self.head_dim));
        }
        if self.hidden > 1 << 16
            || self.intermediate > 1 << 18
            || self.layers > 1024
            || self.vocab > 1 << 22
            || self.heads > 1024
        {
            return Err("implausibly large dimensions".into());
        }
        Ok(())
    }

    pub fn summary(&self, params: f64) -> String {
        let attention = if self.kv_heads == self.heads {
            format!("{} heads", self.heads)
        } else {
            format!("{} query / {} key-value heads", self.heads, self.kv_heads)
        };
        format!(
            "Llama causal LM: {} layers, d={}, {attention}, rope θ={}, context {}, vocab {}{}, {:.1}M parameters",
            self.layers,
            self.hidden,
            self.rope_theta,
            self.context,
            self.vocab,
            if self.tied { ", tied embeddings" } else { "" },
            params / 1e6
        )
    }
}
