//! Activation functions named in Hugging Face `config.json` files, as transformers' `ACT2FN`
//! computes them; shared by the networks this crate implements itself (DeBERTa-v2, GPT-Neo).

/// An activation named in config.json, as transformers' `ACT2FN` computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact, erf-based GELU.
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    Relu,
    Tanh,
    Silu,
}

impl Activation {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "silu" | "swish" => Activation::Silu,
            _ => return None,
        })
    }

    /// Reads `key` of a config (absent: `default`), or says which names are supported.
    pub fn from_config(config: &serde_json::Value, key: &str, default: &str) -> Result<Self, String> {
        let name = config.get(key).and_then(serde_json::Value::as_str).unwrap_or(default);
        Self::parse(name).ok_or_else(|| {
            format!("{key} {name:?} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, tanh, silu are)")
        })
    }
}
