//! BERT-family masked LMs (`model_type: albert | bert | distilbert | roberta`) on rust-bert, split into encoder and
//! MLM head so that pseudo-log-likelihood runs the vocabulary projection only on the one masked
//! position of each copy instead of on every position (what makes batched PLL cheap).
//!
//! Checkpoint mapping: old `LayerNorm.gamma/beta` names become `weight/bias`; the decoder weight,
//! stored once because it is tied to the word embeddings, is copied from them; the pooler,
//! next-sentence head and position-id buffers are dropped.

use rust_bert::Activation;
use rust_bert::albert::{AlbertConfig, AlbertModel};
use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModel};
use rust_bert::roberta::RobertaEmbeddings;
use serde_json::Value;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::weights::Checkpoint;
use crate::models::neural::NeuralError;
use crate::models::neural::hf::ModelFolder;

enum Net {
    Bert { encoder: BertModel<BertEmbeddings>, head: BertHead },
    Distil { encoder: DistilBertModel, transform: nn::Linear, norm: nn::LayerNorm, projector: nn::Linear },
    Roberta { encoder: BertModel<RobertaEmbeddings>, head: RobertaHead },
    Albert { encoder: AlbertModel, head: AlbertHead },
}

pub struct MaskedNet {
    net: Net,
    _vs: VarStore,
    pub max_positions: usize,
    pub summary: String,
}

impl MaskedNet {
    pub fn load(folder: &ModelFolder, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let mut ckpt = Checkpoint::read(&folder.weights)?;
        ckpt.check_config(folder)?;
        let mut vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let (net, max_positions, shape) = match folder.model_type.as_str() {
            "bert" => {
                let c: BertConfig = parse_config(folder, "bert")?;
                let encoder = BertModel::<BertEmbeddings>::new_with_optional_pooler(&root / "bert", &c, false);
                let head = BertHead::new(&(&root / "cls" / "predictions"), &c);
                ckpt.rename(|n| {
                    let n =
                        n.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias");
                    let keep = !(n.starts_with("bert.pooler")
                        || n.starts_with("cls.seq_relationship")
                        || n.ends_with("position_ids")
                        || n == "cls.predictions.decoder.bias");
                    keep.then(|| if n.starts_with("bert.") || n.starts_with("cls.") { n } else { format!("bert.{n}") })
                });
                ckpt.tie("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight");
                let shape = format!(
                    "BERT masked LM: {} layers, d={}, {} heads",
                    c.num_hidden_layers, c.hidden_size, c.num_attention_heads
                );
                (Net::Bert { encoder, head }, c.max_position_embeddings as usize, shape)
            }
            "distilbert" => {
                let c: DistilBertConfig = parse_config(folder, "distilbert")?;
                let encoder = DistilBertModel::new(&root, &c);
                let eps = nn::LayerNormConfig { eps: 1e-12, ..Default::default() };
                let transform = nn::linear(&root / "vocab_transform", c.dim, c.dim, Default::default());
                let norm = nn::layer_norm(&root / "vocab_layer_norm", vec![c.dim], eps);
                let projector = nn::linear(&root / "vocab_projector", c.dim, c.vocab_size, Default::default());
                ckpt.rename(|n| (!n.ends_with("position_ids")).then(|| n.to_owned()));
                ckpt.tie("vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight");
                let shape = format!("DistilBERT masked LM: {} layers, d={}, {} heads", c.n_layers, c.dim, c.n_heads);
                (Net::Distil { encoder, transform, norm, projector }, c.max_position_embeddings as usize, shape)
            }
            "roberta" => {
                let c: BertConfig = parse_config(folder, "roberta")?;
                let eps = folder.typed("layer_norm_eps", Value::as_f64, "a number")?.unwrap_or(1e-5);
                let encoder = BertModel::<RobertaEmbeddings>::new_with_optional_pooler(&root / "roberta", &c, false);
                let head = RobertaHead::new(&(&root / "lm_head"), &c, eps);
                ckpt.rename(|n| {
                    let keep = !(n.starts_with("roberta.pooler")
                        || n.ends_with("position_ids")
                        || n == "lm_head.decoder.bias");
                    keep.then(|| {
                        if n.starts_with("roberta.") || n.starts_with("lm_head.") {
                            n.to_owned()
                        } else {
                            format!("roberta.{n}")
                        }
                    })
                });
                ckpt.tie("lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight");
                let shape = format!(
                    "RoBERTa masked LM: {} layers, d={}, {} heads",
                    c.num_hidden_layers, c.hidden_size, c.num_attention_heads
                );
                // Positions start after padding_idx (1): two of max_position_embeddings are unusable.
                (Net::Roberta { encoder, head }, (c.max_position_embeddings - 2).max(0) as usize, shape)
            }
            "albert" => {
                let c: AlbertConfig = parse_config(folder, "albert")?;
                let encoder = AlbertModel::new(&root / "albert", &c);
                let head = AlbertHead::new(&(&root / "predictions"), &c);
                // The decoder is tied to the word embeddings and its bias to `predictions.bias`.
                ckpt.tie("predictions.decoder.weight", "albert.embeddings.word_embeddings.weight");
                ckpt.tie("predictions.decoder.bias", "predictions.bias");
                ckpt.rename(|n| (n != "predictions.bias").then(|| n.to_owned()));
                let shape = format!(
                    "ALBERT masked LM: {} layers sharing {} group(s), d={}, embeddings {}, {} heads",
                    c.num_hidden_layers, c.num_hidden_groups, c.hidden_size, c.embedding_size, c.num_attention_heads
                );
                (Net::Albert { encoder, head }, c.max_position_embeddings as usize, shape)
            }
            other => {
                return Err(NeuralError::file(
                    &folder.config_path(),
                    format!("model_type {other:?} is not a supported masked LM"),
                ));
            }
        };
        // AlbertForMaskedLM has no pooler; rust-bert builds one that the masked LM never reads.
        ckpt.assign(&vs, |name| name.starts_with("albert.pooler."))?;
        vs.set_kind(kind);
        vs.set_device(device);
        let params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        let summary = format!("{shape}, {max_positions} positions, {:.1}M parameters", params as f64 / 1e6);
        Ok(MaskedNet { net, _vs: vs, max_positions, summary })
    }

    /// Log-probabilities of `targets[r]` at position `positions[r]` of row `r` of `input`
    /// (equal-length rows, no padding).
    pub fn masked_logprobs(&self, input: &Tensor, positions: &Tensor, targets: &Tensor) -> Result<Tensor, NeuralError> {
        let hidden = match &self.net {
            Net::Bert { encoder, .. } => {
                encoder
                    .forward_t(Some(input), None, None, None, None, None, None, false)
                    .map_err(|e| NeuralError::Torch(e.to_string()))?
                    .hidden_state
            }
            Net::Roberta { encoder, .. } => {
                encoder
                    .forward_t(Some(input), None, None, None, None, None, None, false)
                    .map_err(|e| NeuralError::Torch(e.to_string()))?
                    .hidden_state
            }
            Net::Distil { encoder, .. } => {
                encoder
                    .forward_t(Some(input), None, None, false)
                    .map_err(|e| NeuralError::Torch(e.to_string()))?
                    .hidden_state
            }
            Net::Albert { encoder, .. } => {
                encoder
                    .forward_t(Some(input), None, None, None, None, false)
                    .map_err(|e| NeuralError::Torch(e.to_string()))?
                    .hidden_state
            }
        };
        let rows = hidden.size()[0];
        let picked = hidden
            .gather(1, &positions.view([rows, 1, 1]).expand([rows, 1, hidden.size()[2]], false), false)
            .squeeze_dim(1);
        let logits = match &self.net {
            Net::Bert { head, .. } => head.forward(&picked),
            Net::Roberta { head, .. } => head.forward(&picked),
            Net::Albert { head, .. } => head.forward(&picked),
            Net::Distil { transform, norm, projector, .. } => {
                projector.forward(&norm.forward(&transform.forward(&picked).gelu("none")))
            }
        };
        Ok(super::target_logprobs(&logits, targets))
    }
}

/// `cls.predictions` of BertForMaskedLM (rust-bert does not export its own): dense, activation,
/// LayerNorm, then the decoder tied to the word embeddings, plus a bias.
struct BertHead {
    dense: nn::Linear,
    activation: Activation,
    norm: nn::LayerNorm,
    decoder: Tensor,
    bias: Tensor,
}

impl BertHead {
    fn new(p: &nn::Path, c: &BertConfig) -> Self {
        let t = p / "transform";
        BertHead {
            dense: nn::linear(&t / "dense", c.hidden_size, c.hidden_size, Default::default()),
            activation: c.hidden_act,
            norm: nn::layer_norm(
                &t / "LayerNorm",
                vec![c.hidden_size],
                nn::LayerNormConfig { eps: 1e-12, ..Default::default() },
            ),
            decoder: (p / "decoder").var("weight", &[c.vocab_size, c.hidden_size], nn::Init::Const(0.0)),
            bias: p.var("bias", &[c.vocab_size], nn::Init::Const(0.0)),
        }
    }

    fn forward(&self, hidden: &Tensor) -> Tensor {
        let h = self.activation.get_function().get_fn()(&hidden.apply(&self.dense)).apply(&self.norm);
        h.matmul(&self.decoder.tr()) + &self.bias
    }
}

/// `lm_head` of RobertaForMaskedLM with the configured layer-norm epsilon (rust-bert's own head
/// hard-codes 1e-12; RoBERTa checkpoints use 1e-5).
struct RobertaHead {
    dense: nn::Linear,
    norm: nn::LayerNorm,
    decoder: Tensor,
    bias: Tensor,
}

impl RobertaHead {
    fn new(p: &nn::Path, c: &BertConfig, eps: f64) -> Self {
        RobertaHead {
            dense: nn::linear(p / "dense", c.hidden_size, c.hidden_size, Default::default()),
            norm: nn::layer_norm(
                p / "layer_norm",
                vec![c.hidden_size],
                nn::LayerNormConfig { eps, ..Default::default() },
            ),
            decoder: (p / "decoder").var("weight", &[c.vocab_size, c.hidden_size], nn::Init::Const(0.0)),
            bias: p.var("bias", &[c.vocab_size], nn::Init::Const(0.0)),
        }
    }

    fn forward(&self, hidden: &Tensor) -> Tensor {
        hidden.apply(&self.dense).gelu("none").apply(&self.norm).matmul(&self.decoder.tr()) + &self.bias
    }
}

/// transformers' `AlbertMLMHead` (rust-bert does not export its own): hidden → embedding size,
/// the configured activation, LayerNorm, then the decoder tied to the word embeddings.
struct AlbertHead {
    dense: nn::Linear,
    activation: rust_bert::Activation,
    norm: nn::LayerNorm,
    decoder: nn::Linear,
}

impl AlbertHead {
    fn new(p: &nn::Path, c: &AlbertConfig) -> Self {
        let eps = c.layer_norm_eps.unwrap_or(1e-12);
        AlbertHead {
            dense: nn::linear(p / "dense", c.hidden_size, c.embedding_size, Default::default()),
            activation: c.hidden_act,
            norm: nn::layer_norm(
                p / "LayerNorm",
                vec![c.embedding_size],
                nn::LayerNormConfig { eps, ..Default::default() },
            ),
            decoder: nn::linear(p / "decoder", c.embedding_size, c.vocab_size, Default::default()),
        }
    }

    fn forward(&self, hidden: &Tensor) -> Tensor {
        let x = (self.activation.get_function().get_fn())(&hidden.apply(&self.dense));
        x.apply(&self.norm).apply(&self.decoder)
    }
}

/// A rust-bert config (`BertConfig`, `DistilBertConfig` or `AlbertConfig`) from config.json: required keys checked
/// by name, defaults transformers would assume filled in.
pub fn parse_config<T: serde::de::DeserializeOwned>(folder: &ModelFolder, model_type: &str) -> Result<T, NeuralError> {
    let (required, defaults): (&[&str], Vec<(&str, Value)>) = if model_type == "distilbert" {
        (
            &["dim", "n_layers", "n_heads", "hidden_dim", "max_position_embeddings", "vocab_size"],
            vec![
                ("tie_weights_", Value::from(true)),
                ("activation", Value::from("gelu")),
                ("attention_dropout", Value::from(0.1)),
                ("dropout", Value::from(0.1)),
                ("qa_dropout", Value::from(0.1)),
                ("seq_classif_dropout", Value::from(0.2)),
                ("sinusoidal_pos_embds", Value::from(false)),
                ("initializer_range", Value::from(0.02)),
            ],
        )
    } else if model_type == "albert" {
        // transformers' AlbertConfig defaults (gelu_new, 128-wide embeddings, one shared group).
        if let Some(p) =
            folder.typed("position_embedding_type", Value::as_str, "a string")?.filter(|p| *p != "absolute")
        {
            return Err(NeuralError::file(
                &folder.config_path(),
                format!("position_embedding_type {p:?} is not supported (absolute is)"),
            ));
        }
        (
            &["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"],
            vec![
                ("embedding_size", Value::from(128)),
                ("hidden_act", Value::from("gelu_new")),
                ("inner_group_num", Value::from(1)),
                ("num_hidden_groups", Value::from(1)),
                ("max_position_embeddings", Value::from(512)),
                ("type_vocab_size", Value::from(2)),
                ("layer_norm_eps", Value::from(1e-12)),
                ("bos_token_id", Value::from(2)),
                ("eos_token_id", Value::from(3)),
                ("pad_token_id", Value::from(0)),
                ("attention_probs_dropout_prob", Value::from(0.0)),
                ("hidden_dropout_prob", Value::from(0.0)),
                ("initializer_range", Value::from(0.02)),
            ],
        )
    } else {
        (
            &[
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "max_position_embeddings",
                "vocab_size",
            ],
            vec![
                ("type_vocab_size", Value::from(2)),
                ("hidden_act", Value::from("gelu")),
                ("attention_probs_dropout_prob", Value::from(0.1)),
                ("hidden_dropout_prob", Value::from(0.1)),
                ("initializer_range", Value::from(0.02)),
            ],
        )
    };
    for key in required {
        folder.int(key)?;
    }
    let mut v = folder.config.clone();
    let obj =
        v.as_object_mut().ok_or_else(|| NeuralError::file(&folder.config_path(), "config.json is not an object"))?;
    for (k, d) in defaults {
        obj.entry(k.to_string()).or_insert(d);
    }
    serde_json::from_value(v).map_err(|e| NeuralError::file(&folder.config_path(), format!("unsupported config: {e}")))
}
