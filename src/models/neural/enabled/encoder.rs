//! BERT encoders read through one layer's hidden states (`kind: encoder`), what BERTScore
//! matches: the network is cut after the chosen layer, as the `bert-score` package cuts
//! `model.encoder.layer`, so the layers above it are neither loaded nor run.
//!
//! Texts are tokenized with `[CLS]` and `[SEP]` and cut to the model's positions (bert-score's
//! `truncation=True`); texts of equal length batch together without padding, so no text's
//! states depend on what it was batched with.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::Runtime;
use super::bert::parse_config;
use crate::models::neural::NeuralError;
use crate::models::neural::hf::{ModelFolder, TextTokenizer};
use crate::models::{LanguageModel, ModelError, TokenEmbedder, TokenEmbeddings};

pub struct EncoderModel {
    net: Mutex<BertModel<BertEmbeddings>>,
    _vs: VarStore,
    tokenizer: TextTokenizer,
    device: Device,
    max_positions: usize,
    dim: usize,
    batch_tokens: usize,
    cls: i64,
    sep: i64,
    description: String,
}

/// The registry's loader: a `bert` folder, with or without a masked-LM or pooler head (both are
/// dropped), cut after `layer` (default: the last).
pub fn load(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let mut ckpt = super::checked_checkpoint(&folder)?;
    let mut c: BertConfig = parse_config(&folder, "bert")?;
    let layers = c.num_hidden_layers as usize;
    let layer = t.options.layer.unwrap_or(layers);
    if !(1..=layers).contains(&layer) {
        return Err(NeuralError::file(
            &folder.config_path(),
            format!("layer {layer} does not exist: the encoder has layers 1 to {layers}"),
        ));
    }
    c.num_hidden_layers = layer as i64;
    let need = |id: Option<u32>, what: &str| {
        id.map(i64::from)
            .ok_or_else(|| NeuralError::file(&tokenizer.source, format!("the tokenizer has no {what} token")))
    };
    let (cls, sep) = (need(tokenizer.cls, "[CLS]")?, need(tokenizer.sep, "[SEP]")?);
    let mut vs = VarStore::new(Device::Cpu);
    let net = BertModel::<BertEmbeddings>::new_with_optional_pooler(vs.root(), &c, false);
    ckpt.rename(|n| {
        let n = n.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias");
        let n = n.strip_prefix("bert.").map(str::to_owned).unwrap_or(n);
        let above = n
            .strip_prefix("encoder.layer.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i >= layer);
        let head = n.starts_with("cls.") || n.starts_with("pooler.") || n.ends_with("position_ids");
        (!above && !head).then_some(n)
    });
    ckpt.assign(&vs, |_| false)?;
    vs.set_kind(t.kind);
    vs.set_device(t.device);
    let max_positions = c.max_position_embeddings as usize;
    let max_positions = t.options.max_length.map_or(max_positions, |m| m.min(max_positions));
    if max_positions < 2 {
        return Err(NeuralError::Options(format!("max_length {max_positions} leaves no room for [CLS] and [SEP]")));
    }
    let description = format!(
        "BERT encoder, layer {layer} of {layers}: d={}, {} heads, {max_positions} positions ({})",
        c.hidden_size, c.num_attention_heads, t.where_
    );
    Ok(Arc::new(EncoderModel {
        net: Mutex::new(net),
        _vs: vs,
        tokenizer,
        device: t.device,
        max_positions,
        dim: c.hidden_size as usize,
        batch_tokens: t.options.batch_tokens,
        cls,
        sep,
        description,
    }))
}

impl EncoderModel {
    /// `[CLS] text [SEP]`, the text's tokens cut to fit the positions; and whether it was cut.
    fn ids(&self, text: &str) -> Result<(Vec<i64>, bool), NeuralError> {
        let enc = self.tokenizer.encode(text.trim())?;
        let room = self.max_positions - 2;
        let mut ids = Vec::with_capacity(enc.ids.len().min(room) + 2);
        ids.push(self.cls);
        ids.extend(enc.ids.iter().take(room));
        ids.push(self.sep);
        Ok((ids, enc.ids.len() > room))
    }
}

impl TokenEmbedder for EncoderModel {
    fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>, ModelError> {
        Ok(texts.iter().map(|t| self.ids(t).map(|(ids, _)| ids)).collect::<Result<_, _>>()?)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<TokenEmbeddings>, ModelError> {
        let mut out: Vec<TokenEmbeddings> = Vec::with_capacity(texts.len());
        for t in texts {
            let (ids, truncated) = self.ids(t)?;
            let special = ids.iter().map(|&i| i == self.cls || i == self.sep).collect();
            out.push(TokenEmbeddings { ids, special, dim: self.dim, vectors: Vec::new(), truncated });
        }
        let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (k, e) in out.iter().enumerate() {
            by_length.entry(e.ids.len()).or_default().push(k);
        }
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        for (&len, members) in &by_length {
            for chunk in members.chunks((self.batch_tokens / len).max(1)) {
                let flat: Vec<i64> = chunk.iter().flat_map(|&k| out[k].ids.iter().copied()).collect();
                let values = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
                    let input = Tensor::from_slice(&flat).view([chunk.len() as i64, len as i64]).to_device(self.device);
                    let hidden = net
                        .forward_t(Some(&input), None, None, None, None, None, None, false)
                        .map_err(|e| NeuralError::Torch(e.to_string()))?
                        .hidden_state;
                    super::host_f32(&hidden.contiguous().view([-1]))
                })?;
                let per_text = len * self.dim;
                for (i, &k) in chunk.iter().enumerate() {
                    out[k].vectors = values[i * per_text..(i + 1) * per_text].to_vec();
                }
            }
        }
        Ok(out)
    }
}

impl LanguageModel for EncoderModel {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn token_embedder(&self) -> Option<&dyn TokenEmbedder> {
        Some(self)
    }
}
