//! DeBERTa-v2/v3 sequence classification on tch, as transformers 4.46's
//! `DebertaV2ForSequenceClassification` computes it: word (+ absolute position, + segment)
//! embeddings, LayerNorm, padding zeroed; disentangled self-attention whose scores add
//! content→position (c2p) and position→content (p2c) terms read from a relative-embedding table
//! through (optionally log-bucketed) relative positions, all scaled by √(d·(1 + #terms)); the
//! optional convolution beside the first layer (deberta-v2-xlarge); a pooler on the first token
//! and a linear classifier.
//!
//! Written here rather than taken from rust-bert 0.23, whose DeBERTa-v2 divides the relative
//! scores by d·s instead of √(d·s) and buckets positions with integer division: it gives other
//! rewards than transformers. The log buckets are computed with the same libtorch operations in
//! the same order as transformers, so each bucket is the same integer.

use tch::{Device, Kind, Tensor};

use super::activate;
use super::weights::{Checkpoint, Loader};
use crate::models::neural::NeuralError;
use crate::models::neural::deberta_config::DebertaV2Config;

type Linear = (Tensor, Tensor);
type Norm = (Tensor, Tensor);

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    pos_key: Option<Linear>,
    pos_query: Option<Linear>,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

struct Conv {
    weight: Tensor,
    bias: Tensor,
    norm: Norm,
}

pub struct DebertaV2 {
    config: DebertaV2Config,
    words: Tensor,
    positions: Option<Tensor>,
    segments: Option<Tensor>,
    embed_proj: Option<Tensor>,
    embed_norm: Norm,
    relative: Option<Tensor>,
    layers: Vec<Layer>,
    conv: Option<Conv>,
    pooler: Linear,
    classifier: Linear,
    device: Device,
    pub summary: String,
}

impl DebertaV2 {
    pub fn load(config: DebertaV2Config, ckpt: Checkpoint, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let c = &config;
        let (d, e, inner, ff) =
            (c.hidden as i64, c.embedding as i64, (c.heads * c.head_dim) as i64, c.intermediate as i64);
        let mut w = Loader::new(ckpt, device, kind);
        let words = w.take("deberta.embeddings.word_embeddings.weight", &[c.vocab as i64, e])?;
        let positions = if c.position_biased_input {
            Some(w.take("deberta.embeddings.position_embeddings.weight", &[c.max_positions as i64, e])?)
        } else {
            None
        };
        let segments = if c.type_vocab > 0 {
            Some(w.take("deberta.embeddings.token_type_embeddings.weight", &[c.type_vocab as i64, e])?)
        } else {
            None
        };
        let embed_proj = if e != d { Some(w.take("deberta.embeddings.embed_proj.weight", &[d, e])?) } else { None };
        let embed_norm = w.pair("deberta.embeddings.LayerNorm", &[d], &[d])?;
        let relative = if c.relative_attention {
            Some(w.take("deberta.encoder.rel_embeddings.weight", &[2 * c.span as i64, d])?)
        } else {
            None
        };
        let relative = match (relative, c.norm_rel_embeddings && c.relative_attention) {
            (Some(table), true) => {
                let (nw, nb) = w.pair("deberta.encoder.LayerNorm", &[d], &[d])?;
                // The normalised table does not depend on the input: computed once.
                Some(table.layer_norm([d], Some(&nw), Some(&nb), c.layer_norm_eps, false))
            }
            (table, _) => table,
        };
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let p = format!("deberta.encoder.layer.{i}");
            let separate = c.relative_attention && !c.share_att_key;
            layers.push(Layer {
                query: w.pair(&format!("{p}.attention.self.query_proj"), &[inner, d], &[inner])?,
                key: w.pair(&format!("{p}.attention.self.key_proj"), &[inner, d], &[inner])?,
                value: w.pair(&format!("{p}.attention.self.value_proj"), &[inner, d], &[inner])?,
                pos_key: if separate && c.c2p {
                    Some(w.pair(&format!("{p}.attention.self.pos_key_proj"), &[inner, d], &[inner])?)
                } else {
                    None
                },
                pos_query: if separate && c.p2c {
                    Some(w.pair(&format!("{p}.attention.self.pos_query_proj"), &[inner, d], &[inner])?)
                } else {
                    None
                },
                attention_out: w.pair(&format!("{p}.attention.output.dense"), &[d, inner], &[d])?,
                attention_norm: w.pair(&format!("{p}.attention.output.LayerNorm"), &[d], &[d])?,
                intermediate: w.pair(&format!("{p}.intermediate.dense"), &[ff, d], &[ff])?,
                output: w.pair(&format!("{p}.output.dense"), &[d, ff], &[d])?,
                output_norm: w.pair(&format!("{p}.output.LayerNorm"), &[d], &[d])?,
            });
        }
        let conv = match &c.conv {
            Some(cc) => Some(Conv {
                weight: w.take("deberta.encoder.conv.conv.weight", &[d, d / cc.groups as i64, cc.kernel as i64])?,
                bias: w.take("deberta.encoder.conv.conv.bias", &[d])?,
                norm: w.pair("deberta.encoder.conv.LayerNorm", &[d], &[d])?,
            }),
            None => None,
        };
        let pooler = w.pair("pooler.dense", &[d, d], &[d])?;
        let classifier = w.pair("classifier", &[c.labels as i64, d], &[c.labels as i64])?;
        let summary = config.summary(w.params as f64);
        w.finish(|_| false)?;
        Ok(DebertaV2 {
            config,
            words,
            positions,
            segments,
            embed_proj,
            embed_norm,
            relative,
            layers,
            conv,
            pooler,
            classifier,
            device,
            summary,
        })
    }

    /// Logits `[batch, labels]` of `ids`, `segments` and `mask` `[batch, seq]` (mask 1 = token,
    /// 0 = padding), on this model's device.
    pub fn forward(&self, ids: &Tensor, segments: &Tensor, mask: &Tensor) -> Result<Tensor, NeuralError> {
        let c = &self.config;
        let (_, len) = ids.size2().map_err(|e| NeuralError::Torch(e.to_string()))?;
        if len as usize > c.max_positions && self.positions.is_some() {
            return Err(NeuralError::Options(format!("{len} tokens exceed the model's {} positions", c.max_positions)));
        }
        let kind = self.words.kind();
        let mut x = Tensor::embedding(&self.words, ids, -1, false, false);
        if let Some(table) = &self.positions {
            x = x + table.narrow(0, 0, len).unsqueeze(0);
        }
        if let Some(table) = &self.segments {
            x = x + Tensor::embedding(table, segments, -1, false, false);
        }
        if let Some(proj) = &self.embed_proj {
            x = x.matmul(&proj.tr());
        }
        let row_mask = mask.unsqueeze(2).to_kind(kind);
        let embedded = layer_norm(&x, &self.embed_norm, c.layer_norm_eps) * &row_mask;
        // Padding keys are never attended; rows of padding do not reach a token's output.
        let keys = mask.to_kind(Kind::Bool).unsqueeze(1).unsqueeze(2);
        let relative_pos = c.relative_attention.then(|| relative_positions(len, c, self.device));
        let mut h = embedded.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = self.layer(layer, &h, &keys, relative_pos.as_ref());
            if i == 0
                && let Some(conv) = &self.conv
            {
                h = self.convolve(conv, &embedded, &h, &row_mask);
            }
        }
        let first = h.select(1, 0);
        let pooled = activate(&first.linear(&self.pooler.0, Some(&self.pooler.1)), c.pooler_activation);
        Ok(pooled.linear(&self.classifier.0, Some(&self.classifier.1)))
    }

    fn layer(&self, l: &Layer, x: &Tensor, keys: &Tensor, relative_pos: Option<&Tensor>) -> Tensor {
        let c = &self.config;
        let (b, t, heads, hd) = (x.size()[0], x.size()[1], c.heads as i64, c.head_dim as i64);
        let split = |y: Tensor| y.view([b, t, heads, hd]).permute([0, 2, 1, 3]);
        let q = split(linear(x, &l.query));
        let k = split(linear(x, &l.key));
        let v = split(linear(x, &l.value));
        let factor = 1 + i64::from(c.c2p) + i64::from(c.p2c);
        // transformers: sqrt(tensor(d, float32) * factor), then the keys divided by it.
        let scale = (Tensor::from(hd as f32) * factor).sqrt().to_kind(q.kind()).to_device(self.device);
        let mut scores = q.matmul(&(k.transpose(-1, -2) / &scale));
        if let (Some(table), Some(rel)) = (&self.relative, relative_pos) {
            let span = c.span as i64;
            let project = |lin: &Linear| -> Tensor {
                linear(table, lin).view([2 * span, heads, hd]).permute([1, 0, 2]).unsqueeze(0)
            };
            if c.c2p {
                let pos_key = project(l.pos_key.as_ref().unwrap_or(&l.key));
                let att = q.matmul(&pos_key.transpose(-1, -2));
                let index = (rel + span).clamp(0, 2 * span - 1).expand([b, heads, t, t], false);
                scores = scores + att.gather(-1, &index, false) / &scale;
            }
            if c.p2c {
                let pos_query = project(l.pos_query.as_ref().unwrap_or(&l.query));
                let att = k.matmul(&pos_query.transpose(-1, -2));
                let index = (-rel + span).clamp(0, 2 * span - 1).expand([b, heads, t, t], false);
                scores = scores + att.gather(-1, &index, false).transpose(-1, -2) / &scale;
            }
        }
        let min = match scores.kind() {
            Kind::Half => f64::from(half::f16::MIN),
            Kind::BFloat16 => f64::from(half::bf16::MIN),
            _ => f64::from(f32::MIN),
        };
        let probs = scores.masked_fill(&keys.logical_not(), min).softmax(-1, scores.kind());
        let context = probs.matmul(&v).permute([0, 2, 1, 3]).contiguous().view([b, t, heads * hd]);
        let attended = layer_norm(&(linear(&context, &l.attention_out) + x), &l.attention_norm, c.layer_norm_eps);
        let inner = activate(&linear(&attended, &l.intermediate), c.activation);
        layer_norm(&(linear(&inner, &l.output) + &attended), &l.output_norm, c.layer_norm_eps)
    }

    /// transformers' `ConvLayer`: a 1-D convolution over the embeddings, padding rows zeroed,
    /// activated, added to the first layer's output and normalised.
    fn convolve(&self, conv: &Conv, embedded: &Tensor, layer_out: &Tensor, row_mask: &Tensor) -> Tensor {
        let cc = self.config.conv.as_ref().expect("conv weights imply a conv config");
        let pad = (cc.kernel as i64 - 1) / 2;
        let out = embedded
            .permute([0, 2, 1])
            .contiguous()
            .conv1d(&conv.weight, Some(&conv.bias), [1], [pad], [1], cc.groups as i64)
            .permute([0, 2, 1]);
        let out = activate(&(out * row_mask), cc.activation);
        layer_norm(&(layer_out + out), &conv.norm, self.config.layer_norm_eps) * row_mask
    }
}

/// transformers' `build_relative_position`: query i − key j, log-bucketed when the model has
/// `position_buckets` (`make_log_bucket_position`, same operations in the same order).
fn relative_positions(len: i64, c: &DebertaV2Config, device: Device) -> Tensor {
    let ids = Tensor::arange(len, (Kind::Int64, Device::Cpu));
    let rel = ids.unsqueeze(1) - ids.unsqueeze(0);
    let rel = match c.position_buckets {
        Some(buckets) => {
            let mid = (buckets / 2) as i64;
            let sign = rel.sign();
            let near = rel.lt(mid).logical_and(&rel.gt(-mid));
            let abs_pos = Tensor::from(mid - 1).where_self(&near, &rel.abs());
            let denominator = Tensor::from(((c.max_relative_positions - 1) as f64 / mid as f64) as f32).log();
            let log_pos = ((abs_pos.to_kind(Kind::Float) / mid as f64).log() / denominator * (mid - 1) as f64).ceil()
                + mid as f64;
            let bucketed = rel.to_kind(Kind::Float).where_self(&abs_pos.le(mid), &(&log_pos * &sign));
            bucketed.to_kind(Kind::Int64)
        }
        None => rel,
    };
    rel.to_device(device)
}

fn linear(x: &Tensor, (w, b): &Linear) -> Tensor {
    x.linear(w, Some(b))
}

fn layer_norm(x: &Tensor, (w, b): &Norm, eps: f64) -> Tensor {
    x.layer_norm([w.size()[0]], Some(w), Some(b), eps, false)
}
