//! Masked pseudo-log-likelihood: every scored token of every text becomes one masked copy of its
//! window (`[CLS] window [SEP]`, the token — and for word-l2r the rest of its word to the right —
//! replaced by `[MASK]`); copies of equal length batch together up to the token budget, and only
//! the masked position goes through the vocabulary projection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;

use tch::{Device, Tensor};

use super::Runtime;
use super::bert::MaskedNet;
use crate::models::neural::hf::{Encoded, ModelFolder, TextTokenizer};
use crate::models::neural::windows;
use crate::models::neural::{NeuralError, NeuralOptions, PllVariant};
use crate::models::{LanguageModel, ModelError, PseudoLikelihood, TokenScores};

pub struct MaskedModel {
    net: Mutex<MaskedNet>,
    tokenizer: TextTokenizer,
    device: Device,
    max_content: usize,
    stride: usize,
    pll: PllVariant,
    batch_tokens: usize,
    specials: (i64, i64, i64),
    description: String,
}

/// One masked copy: which text and token it scores, its input, and the masked position.
struct Copy {
    text: usize,
    token: usize,
    input: Vec<i64>,
    position: usize,
}

impl MaskedModel {
    pub fn new(
        net: MaskedNet,
        tokenizer: TextTokenizer,
        options: &NeuralOptions,
        device: Device,
        where_: String,
    ) -> Result<Self, NeuralError> {
        let max_length = options.max_length.unwrap_or(net.max_positions);
        if max_length > net.max_positions || max_length < 3 {
            return Err(NeuralError::Options(format!(
                "max_length {max_length} must be between 3 and the model's {} positions",
                net.max_positions
            )));
        }
        let need = |id: Option<u32>, what: &str| {
            id.map(|i| i as i64)
                .ok_or_else(|| NeuralError::file(&tokenizer.source, format!("the tokenizer has no {what} token")))
        };
        let specials = (need(tokenizer.cls, "[CLS]")?, need(tokenizer.sep, "[SEP]")?, need(tokenizer.mask, "[MASK]")?);
        let max_content = max_length - 2;
        let stride = options.stride.unwrap_or((max_content / 2).max(1));
        let description = format!(
            "{}; pseudo-log-likelihood ({}), windows of {max_length} positions, stride {stride}; {where_}",
            net.summary, options.pll
        );
        Ok(MaskedModel {
            net: Mutex::new(net),
            tokenizer,
            device,
            max_content,
            stride,
            pll: options.pll,
            batch_tokens: options.batch_tokens,
            specials,
            description,
        })
    }

    /// The masked copies that score tokens `from..` of one text.
    fn copies(&self, text: usize, enc: &Encoded, from: usize, out: &mut Vec<Copy>) {
        let (cls, sep, mask) = self.specials;
        for (begin, end, first) in windows::masked_spans(enc.ids.len(), self.max_content, self.stride) {
            let mut window = Vec::with_capacity(end - begin + 2);
            window.push(cls);
            window.extend_from_slice(&enc.ids[begin..end]);
            window.push(sep);
            for i in first.max(from)..end {
                let mut input = window.clone();
                input[1 + i - begin] = mask;
                if self.pll == PllVariant::WordL2r && enc.words[i].is_some() {
                    for j in i + 1..end {
                        if enc.words[j] == enc.words[i] {
                            input[1 + j - begin] = mask;
                        }
                    }
                }
                out.push(Copy { text, token: i, input, position: 1 + i - begin });
            }
        }
    }

    /// Pseudo-log-likelihoods of the tokens of each text that end after its first
    /// `from_bytes[i]` bytes (all tokens when 0): the tokens before stay unmasked context.
    fn score(&self, texts: &[&str], from_bytes: &[usize]) -> Result<Vec<TokenScores>, NeuralError> {
        let encoded: Vec<Encoded> = texts.iter().map(|t| self.tokenizer.encode(t)).collect::<Result<_, _>>()?;
        let from: Vec<usize> =
            encoded.iter().zip(from_bytes).map(|(e, &b)| e.spans.iter().take_while(|s| s.1 <= b).count()).collect();
        let mut copies = Vec::new();
        for (i, enc) in encoded.iter().enumerate() {
            self.copies(i, enc, from[i], &mut copies);
        }
        // Equal lengths batch without padding.
        let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (k, c) in copies.iter().enumerate() {
            by_length.entry(c.input.len()).or_default().push(k);
        }
        let mut logprobs: Vec<Vec<f64>> = encoded.iter().map(|e| vec![0.0; e.ids.len()]).collect();
        let net = self.net.lock().unwrap_or_else(|p| p.into_inner());
        for (len, members) in by_length.iter().rev() {
            let per_batch = (self.batch_tokens / len).max(1);
            for chunk in members.chunks(per_batch) {
                let mut flat = Vec::with_capacity(chunk.len() * len);
                let (mut positions, mut targets) = (Vec::with_capacity(chunk.len()), Vec::with_capacity(chunk.len()));
                for &k in chunk {
                    let c = &copies[k];
                    flat.extend_from_slice(&c.input);
                    positions.push(c.position as i64);
                    targets.push(encoded[c.text].ids[c.token]);
                }
                let values = tch::no_grad(|| -> Result<Vec<f32>, NeuralError> {
                    let input =
                        Tensor::from_slice(&flat).view([chunk.len() as i64, *len as i64]).to_device(self.device);
                    let pos = Tensor::from_slice(&positions).to_device(self.device);
                    let tgt = Tensor::from_slice(&targets).to_device(self.device);
                    super::host_f32(&net.masked_logprobs(&input, &pos, &tgt)?)
                })?;
                for (&k, v) in chunk.iter().zip(values) {
                    logprobs[copies[k].text][copies[k].token] = v as f64;
                }
            }
        }
        Ok(encoded
            .iter()
            .zip(logprobs)
            .zip(texts.iter().zip(from_bytes))
            .zip(from)
            .map(|(((enc, logprobs), (text, bytes)), from)| TokenScores {
                logprobs: logprobs[from..].to_vec(),
                spans: enc.spans[from..].to_vec(),
                bytes: text.len() - bytes,
                pseudo: true,
                ..TokenScores::default()
            })
            .collect())
    }
}

impl LanguageModel for MaskedModel {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn pseudo_likelihood(&self) -> Option<&dyn PseudoLikelihood> {
        Some(self)
    }
}

impl PseudoLikelihood for MaskedModel {
    fn pseudo_scores(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        Ok(self.score(texts, &vec![0; texts.len()])?)
    }

    fn pseudo_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        let texts: Vec<String> = requests.iter().map(|(c, x)| format!("{c}{x}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let from: Vec<usize> = requests.iter().map(|(c, _)| c.len()).collect();
        Ok(self.score(&refs, &from)?)
    }
}

/// The registry's loader for the masked LMs of the BERT family (BERT, DistilBERT, RoBERTa,
/// ALBERT).
pub fn load(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let net = MaskedNet::load(&folder, t.device, t.kind)?;
    Ok(Arc::new(MaskedModel::new(net, tokenizer, t.options, t.device, t.where_)?))
}
