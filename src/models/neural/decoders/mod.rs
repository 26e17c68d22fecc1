//! The shape and features of the decoder-only causal LMs lmgauge computes itself (Llama, Qwen2,
//! Mistral, Gemma 2, Gemma 3, Phi-3): one [`DecoderConfig`] that every architecture's reader fills
//! in from its own `config.json` keys or GGUF metadata (one file per architecture here; shared
//! key access in `hf_keys.rs` and `gguf_keys.rs`), and that the one network built on it
//! (`enabled/decoder.rs`, and the quantized path for GGUF files) follows. Plain Rust: a
//! build without libtorch still reads, checks and describes a configuration.
//!
//! Readers accept only what they reproduce: a key whose value would change the numbers and is
//! not implemented (a rope type, partial rotary embeddings, sliding windows a model turns on in a
//! way not reproduced) is an error naming the key, the value and what is supported.
//!
//! Adding an architecture: its reader file here, one line in [`read_hf`] (and in [`from_gguf`]
//! for GGUF files), one line in the registry (`super::registry`), its tiny parity checkpoint in
//! scripts/neural-fixtures.py (and its GGUF twin in scripts/gguf-twins.py).

pub mod gemma2;
pub mod gemma3;
mod gguf_keys;
mod hf_keys;
pub mod llama;
pub mod mistral;
pub mod phi3;
pub mod qwen2;

pub use gguf_keys::gguf_common;
pub use hf_keys::Keys;

use super::NeuralError;
use super::activation::Activation;
use super::hf::ModelFolder;

/// How rotary frequencies are rescaled for long contexts (`rope_scaling`).
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    None,
    /// Every frequency divided by `factor` (transformers' `linear`).
    Linear {
        factor: f64,
    },
    /// transformers' `dynamic` NTK scaling: it changes the frequencies only for sequences longer
    /// than `max_position_embeddings`, which lmgauge's windows never are, so it computes as
    /// unscaled rotary embeddings here.
    Dynamic {
        factor: f64,
    },
    /// Llama 3.1's frequency-band scaling (`rope_type: llama3`).
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_context: usize,
    },
    /// Per-frequency divisors from a GGUF file's `rope_freqs.weight` (how convert_hf_to_gguf.py
    /// stores Llama 3.1's `llama3` scaling): frequency `i` is divided by `factors[i]`.
    FreqFactors {
        factors: Vec<f64>,
    },
    /// Phi-3's `longrope`: per-frequency factors, `short` for sequences up to `original_context`
    /// positions and `long` beyond, and cos/sin scaled by `sqrt(1 + ln(context/original) /
    /// ln(original))`.
    LongRope {
        short: Vec<f64>,
        long: Vec<f64>,
        original_context: usize,
    },
}

impl RopeScaling {
    fn describe(&self) -> Option<String> {
        match self {
            RopeScaling::None => None,
            RopeScaling::Linear { factor } => Some(format!("linear rope scaling ×{factor}")),
            RopeScaling::Dynamic { factor } => Some(format!("dynamic rope scaling ×{factor}")),
            RopeScaling::Llama3 { factor, original_context, .. } => {
                Some(format!("llama3 rope scaling ×{factor} from {original_context}"))
            }
            RopeScaling::LongRope { original_context, .. } => Some(format!("longrope from {original_context}")),
            RopeScaling::FreqFactors { .. } => Some("rope frequency factors (rope_freqs)".into()),
        }
    }
}

/// Gemma's departures from the Llama block: norms scale by `1 + w`, the embedding is multiplied
/// by `sqrt(hidden)`, a norm after attention and after the MLP as well as before each, queries
/// scaled by `query_pre_attn_scalar^-1/2`, and optional tanh soft-capping of attention scores and
/// of the final logits.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmaStyle {
    pub query_pre_attn_scalar: f64,
    pub attn_softcap: Option<f64>,
    pub final_softcap: Option<f64>,
}

/// How a GGUF file orders the rotary pairs of each query and key head: llama.cpp permutes
/// Llama's rows so that pairs are adjacent (its "normal" rope); Gemma's are stored in
/// transformers' order, pair `i` with `i + d/2` (its "NEOX" rope).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PairLayout {
    Adjacent,
    Halves,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// The architecture's display name ("Llama", "Qwen2", …).
    pub arch: &'static str,
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
    pub rope_scaling: RopeScaling,
    pub tied: bool,
    /// Biases on the query, key and value projections.
    pub qkv_bias: bool,
    /// A bias on the attention output projection.
    pub o_bias: bool,
    pub mlp_bias: bool,
    /// Query/key/value and gate/up projections stored as one matrix each (Phi-3).
    pub fused: bool,
    /// The MLP's gate activation (SiLU: SwiGLU; tanh GELU: GeGLU).
    pub activation: Activation,
    /// Sliding-window attention: a query sees the `window` most recent positions, itself
    /// included, in the layers marked in `local`.
    pub window: Option<usize>,
    pub local: Vec<bool>,
    /// The rope base of the sliding-window layers where it differs from `rope_theta` (Gemma 3);
    /// those layers use no rope scaling.
    pub local_rope_theta: Option<f64>,
    /// Per-head RMS norms of queries and keys before the rotary embedding (Gemma 3).
    pub qk_norm: bool,
    pub gemma: Option<GemmaStyle>,
    /// The rotary pair order of the GGUF file the configuration was read from (Halves for
    /// Hugging Face folders).
    pub pairs: PairLayout,
}

/// Reads a Hugging Face folder's configuration by its `model_type`; `None` for the types no
/// reader here handles.
pub fn read_hf(folder: &ModelFolder) -> Option<Result<DecoderConfig, NeuralError>> {
    let read: fn(&ModelFolder) -> Result<DecoderConfig, NeuralError> = match folder.model_type.as_str() {
        "llama" => llama::from_hf,
        "qwen2" => qwen2::from_hf,
        "mistral" => mistral::from_hf,
        "gemma2" => gemma2::from_hf,
        "gemma3_text" => gemma3::from_hf,
        "phi3" => phi3::from_hf,
        _ => return None,
    };
    Some(read(folder))
}

/// The `general.architecture` values of GGUF files a reader here handles.
pub const GGUF_ARCHITECTURES: &[&str] = &["llama", "qwen2", "gemma2", "gemma3"];

/// Reads a GGUF file's configuration by its `general.architecture`.
pub fn from_gguf(file: &crate::models::neural::gguf::Gguf) -> Result<DecoderConfig, NeuralError> {
    let arch = file.require_str("general.architecture")?;
    match arch {
        "llama" => llama::from_gguf(file),
        "qwen2" => qwen2::from_gguf(file),
        "gemma2" => gemma2::from_gguf(file),
        "gemma3" => gemma3::from_gguf(file),
        other => Err(NeuralError::file(
            &file.path,
            format!("general.architecture {other:?} is not supported (supported: {})", GGUF_ARCHITECTURES.join(", ")),
        )),
    }
}

impl DecoderConfig {
    /// Sizes a crafted file could make absurd, and combinations the network cannot compute,
    /// refused before any tensor is allocated.
    pub fn check(&self) -> Result<(), String> {
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
        for (name, v) in [
            ("rms_norm_eps", self.rms_eps),
            ("rope_theta", self.rope_theta),
            ("rope_local_base_freq", self.local_rope_theta.unwrap_or(1.0)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} is {v}; it must be a positive finite number"));
            }
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(format!("head size {} is odd (rotary embeddings rotate pairs)", self.head_dim));
        }
        if self.window == Some(0) {
            return Err("sliding_window is 0; it must be a positive number of positions".into());
        }
        if let Some(g) = &self.gemma {
            for (name, v) in [
                ("query_pre_attn_scalar", Some(g.query_pre_attn_scalar)),
                ("attn_logit_softcapping", g.attn_softcap),
                ("final_logit_softcapping", g.final_softcap),
            ] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                    return Err(format!("{name} is {v}; it must be a positive finite number"));
                }
            }
        }
        if self.hidden > 1 << 16
            || self.intermediate > 1 << 18
            || self.layers > 1024
            || self.vocab > 1 << 22
            || self.heads > 1024
            || self.head_dim > 1 << 12
        {
            return Err("implausibly large dimensions".into());
        }
        if self.local.len() != self.layers {
            return Err(format!("{} layer kinds given for {} layers", self.local.len(), self.layers));
        }
        Ok(())
    }

    /// Whether layer `i` attends through the sliding window.
    pub fn is_local(&self, i: usize) -> bool {
        self.window.is_some() && self.local.get(i).copied().unwrap_or(false)
    }

    pub fn summary(&self, params: f64) -> String {
        let attention = if self.kv_heads == self.heads {
            format!("{} heads", self.heads)
        } else {
            format!("{} query / {} key-value heads", self.heads, self.kv_heads)
        };
        let mut extras = Vec::new();
        if let Some(s) = self.rope_scaling.describe() {
            extras.push(s);
        }
        if let Some(theta) = self.local_rope_theta {
            extras.push(format!("local rope θ={theta}"));
        }
        if self.qk_norm {
            extras.push("query/key norms".into());
        }
        if let Some(w) = self.window {
            let local = self.local.iter().filter(|&&l| l).count();
            extras.push(if local == self.layers {
                format!("sliding window {w}")
            } else {
                format!("sliding window {w} in {local} of {} layers", self.layers)
            });
        }
        if let Some(g) = &self.gemma {
            for (name, cap) in [("attention", g.attn_softcap), ("logit", g.final_softcap)] {
                if let Some(cap) = cap {
                    extras.push(format!("{name} soft-cap {cap}"));
                }
            }
        }
        let extras: String = extras.iter().map(|e| format!(", {e}")).collect();
        format!(
            "{} causal LM: {} layers, d={}, {attention}, rope θ={}{extras}, context {}, vocab {}{}, {:.1}M parameters",
            self.arch,
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

/// The keys every Llama-like reader shares: sizes, norm epsilon, rope base, tying.
pub fn common(
    keys: &Keys<'_>,
    arch: &'static str,
    tied_default: bool,
    eps_default: f64,
) -> Result<DecoderConfig, NeuralError> {
    let heads = keys.count("num_attention_heads")?;
    let hidden = keys.count("hidden_size")?;
    let layers = keys.count("num_hidden_layers")?;
    if heads == 0 {
        return Err(keys.err("num_attention_heads is 0; it must be a positive count".into()));
    }
    Ok(DecoderConfig {
        arch,
        hidden,
        intermediate: keys.count("intermediate_size")?,
        layers,
        heads,
        kv_heads: keys.count_or("num_key_value_heads", heads)?,
        head_dim: keys.count_or("head_dim", hidden / heads)?,
        vocab: keys.count("vocab_size")?,
        context: keys.count("max_position_embeddings")?,
        rms_eps: keys.float_or("rms_norm_eps", eps_default)?,
        rope_theta: keys.float_or("rope_theta", 10_000.0)?,
        rope_scaling: RopeScaling::None,
        tied: keys.flag("tie_word_embeddings", tied_default)?,
        qkv_bias: false,
        o_bias: false,
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

/// A reader's last step: the config checked, errors naming the file.
pub fn finish(keys: &Keys<'_>, config: DecoderConfig) -> Result<DecoderConfig, NeuralError> {
    config.check().map_err(|m| keys.err(m))?;
    Ok(config)
}
