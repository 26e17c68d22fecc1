//! Reward models: Hugging Face sequence-classification folders with one output
//! (`BertForSequenceClassification`, `DistilBertForSequenceClassification`,
//! `RobertaForSequenceClassification`) on rust-bert, and `DebertaV2ForSequenceClassification`
//! (DeBERTa-v2 and v3) on this crate's own network ([`super::deberta_v2`]). A pair is read as transformers reads
//! `tokenizer(prompt, response, truncation=True, max_length=…)`: `[CLS] prompt [SEP] response
//! [SEP]` with segment ids 0/1 (BERT, DeBERTa), or `<s> prompt </s></s> response </s>` without segment ids
//! (RoBERTa, whose positions start after the padding index, so two fewer fit), longest-first
//! truncation; the reward is the single logit. Pairs batch with right padding and an attention
//! mask.

use std::sync::Arc;
use std::sync::Mutex;

use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModelClassifier};
use rust_bert::roberta::RobertaForSequenceClassification;
use serde_json::Value;
use tch::{Device, Kind, Tensor, nn::VarStore};

use super::Runtime;
use super::bert::parse_config;
use super::deberta_v2::DebertaV2;
use super::weights::Checkpoint;
use crate::models::neural::deberta_config::DebertaV2Config;
use crate::models::neural::hf::{ModelFolder, TextTokenizer, longest_first};
use crate::models::neural::windows;
use crate::models::neural::{NeuralError, NeuralOptions};
use crate::models::{LanguageModel, ModelError, RewardModel};

enum Net {
    Bert(BertForSequenceClassification),
    Distil(DistilBertModelClassifier),
    Roberta(RobertaForSequenceClassification),
    Deberta(DebertaV2),
}

pub struct RewardClassifier {
    net: Mutex<(Net, VarStore)>,
    tokenizer: TextTokenizer,
    device: Device,
    max_length: usize,
    batch_tokens: usize,
    specials: (i64, i64, i64),
    /// RoBERTa's pair layout: `<s> a </s></s> b </s>`, no segment ids.
    roberta: bool,
    description: String,
}

impl RewardClassifier {
    pub fn load(
        folder: &ModelFolder,
        tokenizer: TextTokenizer,
        options: &NeuralOptions,
        device: Device,
        kind: Kind,
        where_: String,
    ) -> Result<Self, NeuralError> {
        let labels = folder.config.get("id2label").and_then(Value::as_object).map_or(0, |m| m.len());
        if labels != 1 {
            return Err(NeuralError::file(
                &folder.config_path(),
                format!("a reward model has one output (id2label with one entry), this one has {labels}"),
            ));
        }
        let mut vs = VarStore::new(Device::Cpu);
        let mut ckpt = Checkpoint::read(&folder.weights)?;
        ckpt.check_config(folder)?;
        if folder.model_type == "deberta-v2" {
            // Its own network: weights go straight to the device, no variable store.
            let config = DebertaV2Config::from_hf(folder)?;
            let positions = config.max_length();
            let net = DebertaV2::load(config, ckpt, device, kind)?;
            let shape = net.summary.clone();
            return Self::finish(Net::Deberta(net), vs, positions, shape, tokenizer, options, device, where_);
        }
        let (net, positions, shape) = match folder.model_type.as_str() {
            "bert" => {
                let c: BertConfig = parse_config(folder, "bert")?;
                let net = BertForSequenceClassification::new(vs.root(), &c)
                    .map_err(|e| NeuralError::file(&folder.config_path(), e.to_string()))?;
                ckpt.rename(|n| {
                    let n =
                        n.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias");
                    (!n.ends_with("position_ids")).then_some(n)
                });
                (
                    Net::Bert(net),
                    c.max_position_embeddings,
                    format!("BERT reward model: {} layers, d={}", c.num_hidden_layers, c.hidden_size),
                )
            }
            "distilbert" => {
                let c: DistilBertConfig = parse_config(folder, "distilbert")?;
                let net = DistilBertModelClassifier::new(vs.root(), &c)
                    .map_err(|e| NeuralError::file(&folder.config_path(), e.to_string()))?;
                ckpt.rename(|n| (!n.ends_with("position_ids")).then(|| n.to_owned()));
                (
                    Net::Distil(net),
                    c.max_position_embeddings,
                    format!("DistilBERT reward model: {} layers, d={}", c.n_layers, c.dim),
                )
            }
            "roberta" => {
                let c: BertConfig = parse_config(folder, "roberta")?;
                let net = RobertaForSequenceClassification::new(vs.root(), &c)
                    .map_err(|e| NeuralError::file(&folder.config_path(), e.to_string()))?;
                ckpt.rename(|n| {
                    (!n.ends_with("position_ids") && !n.starts_with("roberta.pooler")).then(|| n.to_owned())
                });
                (
                    Net::Roberta(net),
                    c.max_position_embeddings - 2,
                    format!("RoBERTa reward model: {} layers, d={}", c.num_hidden_layers, c.hidden_size),
                )
            }
            other => {
                return Err(NeuralError::file(
                    &folder.config_path(),
                    format!(
                        "model_type {other:?} is not a supported reward model (supported: bert, distilbert, roberta, deberta-v2)"
                    ),
                ));
            }
        };
        ckpt.assign(&vs, |_| false)?;
        vs.set_kind(kind);
        vs.set_device(device);
        Self::finish(net, vs, positions as usize, shape, tokenizer, options, device, where_)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        net: Net,
        vs: VarStore,
        positions: usize,
        shape: String,
        tokenizer: TextTokenizer,
        options: &NeuralOptions,
        device: Device,
        where_: String,
    ) -> Result<Self, NeuralError> {
        let max_length = options.max_length.unwrap_or(positions);
        if max_length > positions || max_length < 4 {
            return Err(NeuralError::Options(format!(
                "max_length {max_length} must be between 4 and the model's {positions} positions"
            )));
        }
        let need = |id: Option<u32>, what: &str| {
            id.map(|i| i as i64)
                .ok_or_else(|| NeuralError::file(&tokenizer.source, format!("the tokenizer has no {what} token")))
        };
        let specials = (need(tokenizer.cls, "[CLS]")?, need(tokenizer.sep, "[SEP]")?, need(tokenizer.pad, "[PAD]")?);
        let roberta = matches!(net, Net::Roberta(_));
        let layout = if roberta { "<s> prompt </s></s> response </s>" } else { "[CLS] prompt [SEP] response [SEP]" };
        let description = format!("{shape}; {layout}, longest-first truncation to {max_length}; {where_}");
        Ok(RewardClassifier {
            net: Mutex::new((net, vs)),
            tokenizer,
            device,
            max_length,
            batch_tokens: options.batch_tokens,
            specials,
            roberta,
            description,
        })
    }

    /// `[CLS] a [SEP] b [SEP]` (RoBERTa: `<s> a </s></s> b </s>`) and its segment ids, truncated
    /// as transformers truncates pairs.
    fn encode_pair(&self, prompt: &str, response: &str) -> Result<(Vec<i64>, Vec<i64>), NeuralError> {
        let (cls, sep, _) = self.specials;
        let a = self.tokenizer.encode(prompt)?.ids;
        let b = self.tokenizer.encode(response)?.ids;
        let specials = if self.roberta { 4 } else { 3 };
        let (n1, n2) = longest_first(a.len(), b.len(), self.max_length - specials);
        let mut ids = Vec::with_capacity(n1 + n2 + specials);
        ids.push(cls);
        ids.extend_from_slice(&a[..n1]);
        ids.push(sep);
        if self.roberta {
            ids.push(sep);
        }
        // RoBERTa has one segment: every id 0.
        let first = if self.roberta { usize::MAX } else { ids.len() };
        ids.extend_from_slice(&b[..n2]);
        ids.push(sep);
        let types = (0..ids.len()).map(|i| i64::from(i >= first)).collect();
        Ok((ids, types))
    }

    fn classify(&self, pairs: &[(&str, &str)]) -> Result<Vec<f64>, NeuralError> {
        let encoded: Vec<(Vec<i64>, Vec<i64>)> =
            pairs.iter().map(|(p, r)| self.encode_pair(p, r)).collect::<Result<_, _>>()?;
        let lengths: Vec<usize> = encoded.iter().map(|(ids, _)| ids.len()).collect();
        let mut out = vec![f64::NAN; pairs.len()];
        let guard = self.net.lock().unwrap_or_else(|p| p.into_inner());
        let net = &guard.0;
        for batch in windows::batches(&lengths, self.batch_tokens) {
            let width = batch.iter().map(|&b| lengths[b]).max().unwrap_or(0);
            let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
            for &b in &batch {
                let (i, t) = &encoded[b];
                ids.extend(i.iter().copied().chain(std::iter::repeat(self.specials.2)).take(width));
                types.extend(t.iter().copied().chain(std::iter::repeat(0)).take(width));
                mask.extend((0..width).map(|k| i64::from(k < i.len())));
            }
            let shape = [batch.len() as i64, width as i64];
            let values = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
                let ids = Tensor::from_slice(&ids).view(shape).to_device(self.device);
                let types = Tensor::from_slice(&types).view(shape).to_device(self.device);
                let mask = Tensor::from_slice(&mask).view(shape).to_device(self.device);
                let logits = match net {
                    Net::Bert(m) => m.forward_t(Some(&ids), Some(&mask), Some(&types), None, None, false).logits,
                    Net::Distil(m) => {
                        m.forward_t(Some(&ids), Some(&mask), None, false)
                            .map_err(|e| NeuralError::Torch(e.to_string()))?
                            .logits
                    }
                    Net::Roberta(m) => m.forward_t(Some(&ids), Some(&mask), None, None, None, false).logits,
                    Net::Deberta(m) => m.forward(&ids, &types, &mask)?,
                };
                super::host_f32(&logits.select(1, 0))
            })?;
            for (&b, v) in batch.iter().zip(values) {
                out[b] = v as f64;
            }
        }
        Ok(out)
    }
}

impl LanguageModel for RewardClassifier {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn reward_model(&self) -> Option<&dyn RewardModel> {
        Some(self)
    }
}

impl RewardModel for RewardClassifier {
    fn rewards(&self, pairs: &[(&str, &str)]) -> Result<Vec<f64>, ModelError> {
        Ok(self.classify(pairs)?)
    }
}

/// The registry's loader for reward models (sequence classifiers with one output).
pub fn load(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    Ok(Arc::new(RewardClassifier::load(&folder, tokenizer, t.options, t.device, t.kind, t.where_)?))
}
