//! The shape of a DeBERTa-v2/v3 encoder (`model_type: deberta-v2`) from a Hugging Face
//! `config.json`, with transformers 4.46's defaults for every key a file may leave out (the
//! `DebertaV2Config` constructor's, and the `getattr` defaults of the modelling code). Plain Rust:
//! a build without libtorch still reads and reports it.
//!
//! Read as transformers reads it: `max_relative_positions < 1` means `max_position_embeddings`;
//! `position_buckets > 0` switches to log buckets and sets the relative span; `pos_att_type` is a
//! list or a `"p2c|c2p"` string. A pooler wider than the hidden size is refused (transformers
//! would fail on it too), as is an activation this crate does not compute.

use serde_json::Value;

use super::NeuralError;
pub use super::activation::Activation;
use super::hf::ModelFolder;

/// DeBERTa-v2's convolution beside the first layer (`conv_kernel_size > 0`, deberta-v2-xlarge).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvConfig {
    pub kernel: usize,
    pub groups: usize,
    pub activation: Activation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DebertaV2Config {
    pub vocab: usize,
    pub hidden: usize,
    pub embedding: usize,
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub activation: Activation,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f64,
    pub position_biased_input: bool,
    pub relative_attention: bool,
    /// Rows of the relative-embedding table on each side: `position_buckets` when bucketed, else
    /// `max_relative_positions`.
    pub span: usize,
    pub position_buckets: Option<usize>,
    pub max_relative_positions: usize,
    pub c2p: bool,
    pub p2c: bool,
    pub share_att_key: bool,
    pub norm_rel_embeddings: bool,
    pub conv: Option<ConvConfig>,
    pub pooler_activation: Activation,
    pub labels: usize,
    pub pad_token_id: i64,
}

impl DebertaV2Config {
    pub fn from_hf(folder: &ModelFolder) -> Result<Self, NeuralError> {
        let path = folder.config_path();
        let err = |m: String| NeuralError::file(&path, m);
        let c = &folder.config;
        let int =
            |k: &str| folder.int(k).and_then(|v| usize::try_from(v).map_err(|_| err(format!("\"{k}\" is negative"))));
        let opt = |k: &str, default: i64| {
            Ok::<_, NeuralError>(folder.typed(k, Value::as_i64, "an integer")?.unwrap_or(default))
        };
        let flag = |k: &str, default: bool| {
            Ok::<_, NeuralError>(folder.typed(k, Value::as_bool, "true or false")?.unwrap_or(default))
        };
        let act = |k: &str, default: &str| Activation::from_config(c, k, default).map_err(err);
        let hidden = int("hidden_size")?;
        let heads = int("num_attention_heads")?;
        if heads == 0 || hidden == 0 {
            return Err(err("hidden_size and num_attention_heads must be positive".into()));
        }
        let max_positions = int("max_position_embeddings")?;
        let pos_att: Vec<String> = match c.get("pos_att_type") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.to_lowercase().split('|').map(|x| x.trim().to_owned()).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| err("pos_att_type must hold strings".into())))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(err("pos_att_type must be a list or a \"p2c|c2p\" string".into())),
        };
        if let Some(other) = pos_att.iter().find(|p| !["c2p", "p2c"].contains(&p.as_str())) {
            return Err(err(format!("pos_att_type {other:?} is not supported (c2p and p2c are)")));
        }
        let max_relative = match opt("max_relative_positions", -1)? {
            m if m < 1 => max_positions,
            m => m as usize,
        };
        let buckets = usize::try_from(opt("position_buckets", -1)?).ok().filter(|&b| b > 0);
        if let Some(b) = buckets {
            // make_log_bucket_position divides by log((max_position - 1) / mid).
            if b < 2 || max_relative <= b / 2 + 1 {
                return Err(err(format!(
                    "position_buckets {b} needs max_relative_positions above {} (it is {max_relative})",
                    b / 2 + 1
                )));
            }
        }
        let norm_rel = folder.typed("norm_rel_ebd", Value::as_str, "a string")?.unwrap_or("none").to_lowercase();
        let conv = match opt("conv_kernel_size", 0)? {
            k if k > 0 => {
                let groups = opt("conv_groups", 1)?.max(1) as usize;
                if hidden % groups != 0 || k % 2 == 0 {
                    return Err(err(format!(
                        "conv_kernel_size {k} with conv_groups {groups}: the kernel must be odd and the groups divide hidden_size"
                    )));
                }
                Some(ConvConfig { kernel: k as usize, groups, activation: act("conv_act", "tanh")? })
            }
            _ => None,
        };
        let pooler = opt("pooler_hidden_size", hidden as i64)?;
        if pooler != hidden as i64 {
            return Err(err(format!(
                "pooler_hidden_size {pooler} differs from hidden_size {hidden}: transformers' classifier cannot read it either"
            )));
        }
        let labels = match folder.typed("id2label", Value::as_object, "an object")? {
            Some(m) => m.len(),
            None => opt("num_labels", 2)? as usize,
        };
        let config = DebertaV2Config {
            vocab: int("vocab_size")?,
            hidden,
            embedding: folder
                .typed("embedding_size", Value::as_u64, "a non-negative integer")?
                .map_or(hidden, |e| e as usize),
            layers: int("num_hidden_layers")?,
            heads,
            head_dim: folder
                .typed("attention_head_size", Value::as_u64, "a non-negative integer")?
                .map_or(hidden / heads, |d| d as usize),
            intermediate: int("intermediate_size")?,
            activation: act("hidden_act", "gelu")?,
            max_positions,
            type_vocab: opt("type_vocab_size", 0)?.max(0) as usize,
            layer_norm_eps: folder.typed("layer_norm_eps", Value::as_f64, "a number")?.unwrap_or(1e-7),
            position_biased_input: flag("position_biased_input", true)?,
            relative_attention: flag("relative_attention", false)?,
            span: buckets.unwrap_or(max_relative),
            position_buckets: buckets,
            max_relative_positions: max_relative,
            c2p: pos_att.iter().any(|p| p == "c2p"),
            p2c: pos_att.iter().any(|p| p == "p2c"),
            share_att_key: flag("share_att_key", false)?,
            norm_rel_embeddings: norm_rel.split('|').any(|x| x.trim() == "layer_norm"),
            conv,
            pooler_activation: act("pooler_hidden_act", "gelu")?,
            labels,
            pad_token_id: opt("pad_token_id", 0)?,
        };
        if config.head_dim == 0 || config.layers == 0 || config.vocab == 0 {
            return Err(err("vocab_size, num_hidden_layers and the head size must be positive".into()));
        }
        Ok(config)
    }

    /// The longest input: absolute positions bound it when the input carries them; relative-only
    /// models are still read at most `max_position_embeddings` long, as their tokenizers are.
    pub fn max_length(&self) -> usize {
        self.max_positions
    }

    pub fn summary(&self, params: f64) -> String {
        let attention = if self.relative_attention {
            let kinds = [(self.c2p, "c2p"), (self.p2c, "p2c")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join("+");
            let buckets = self.position_buckets.map_or(String::new(), |b| format!(", {b} log buckets"));
            format!("disentangled attention ({kinds}{buckets})")
        } else {
            "content attention only".to_owned()
        };
        format!(
            "DeBERTa-v2 reward model: {} layers, d={}, {} heads, {attention}, {:.0}M parameters",
            self.layers,
            self.hidden,
            self.heads,
            params / 1e6
        )
    }
}
