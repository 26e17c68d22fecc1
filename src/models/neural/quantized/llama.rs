//! A Llama network computed the way llama.cpp computes a GGUF file on a CPU: the weights stay
//! quantized in the file's map, each matrix product quantizes its input rows to 8 bits
//! ([`super::matmul`]), the key/value cache holds f16 (llama.cpp's default cache type), and the
//! rest is f32 in llama.cpp's order of operations: RMS norm with its sum of squares in f64, rotary
//! embeddings on adjacent pairs (GGUF's Q and K rows are permuted for that) with angles
//! `p · base^(-2i/d)` multiplied up in f32, attention in f32 over the f16 keys and values,
//! SwiGLU, and a final norm before the output head (the token embedding when the file ties them).

use half::f16;
use rayon::prelude::*;

use super::matmul::{self, Weight};
use crate::models::neural::NeuralError;
use crate::models::neural::decoders::{self, DecoderConfig};
use crate::models::neural::gguf::Gguf;

struct Layer {
    attn_norm: Vec<f32>,
    q: Weight,
    k: Weight,
    v: Weight,
    o: Weight,
    ffn_norm: Vec<f32>,
    gate: Weight,
    up: Weight,
    down: Weight,
}

pub struct QuantLlama {
    pub config: DecoderConfig,
    file: Gguf,
    embed: Weight,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Weight,
}

/// Keys and values of the positions read so far, per layer, rows of `kv_heads × head_dim`: f16
/// values (llama.cpp's cache type), kept as f32 so attention reads them without converting.
pub struct Cache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    pub len: usize,
}

impl QuantLlama {
    pub fn load(file: Gguf) -> Result<Self, NeuralError> {
        let c = decoders::llama::from_gguf(&file)?;
        if c.qkv_bias || c.o_bias {
            return Err(NeuralError::file(&file.path, "attention biases are not supported by quantized compute"));
        }
        let f32s = |name: &str, len: usize| -> Result<Vec<f32>, NeuralError> {
            let info =
                file.tensor(name).ok_or_else(|| NeuralError::file(&file.path, format!("tensor {name} is missing")))?;
            if info.dims != [len as u64] {
                return Err(NeuralError::file(
                    &file.path,
                    format!("tensor {name} has shape {:?}, expected [{len}]", info.dims),
                ));
            }
            Ok(file.dequantize(info))
        };
        let (d, kv, ff) = (c.hidden, c.kv_heads * c.head_dim, c.intermediate);
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let w = |name: &str, rows, cols| Weight::open(&file, &format!("blk.{i}.{name}.weight"), rows, cols);
            layers.push(Layer {
                attn_norm: f32s(&format!("blk.{i}.attn_norm.weight"), d)?,
                q: w("attn_q", c.heads * c.head_dim, d)?,
                k: w("attn_k", kv, d)?,
                v: w("attn_v", kv, d)?,
                o: w("attn_output", d, c.heads * c.head_dim)?,
                ffn_norm: f32s(&format!("blk.{i}.ffn_norm.weight"), d)?,
                gate: w("ffn_gate", ff, d)?,
                up: w("ffn_up", ff, d)?,
                down: w("ffn_down", d, ff)?,
            });
        }
        let embed = Weight::open(&file, "token_embd.weight", c.vocab, d)?;
        let output = if c.tied { embed.clone() } else { Weight::open(&file, "output.weight", c.vocab, d)? };
        let norm = f32s("output_norm.weight", d)?;
        Ok(QuantLlama { config: c, file, embed, layers, norm, output })
    }

    pub fn file(&self) -> &Gguf {
        &self.file
    }

    /// Parameters, counted from the tensors' shapes.
    pub fn parameters(&self) -> f64 {
        self.file.tensors.iter().map(|t| t.elements() as f64).sum()
    }

    pub fn cache(&self) -> Cache {
        Cache { k: vec![Vec::new(); self.config.layers], v: vec![Vec::new(); self.config.layers], len: 0 }
    }

    /// Reads `tokens` at the positions after the cache's and returns the final hidden state of
    /// each (`tokens.len() × hidden`), after the output norm.
    pub fn forward(&self, tokens: &[u32], cache: &mut Cache) -> Result<Vec<f32>, NeuralError> {
        let c = &self.config;
        let (t, d) = (tokens.len(), c.hidden);
        let data = self.file.bytes();
        let mut x = vec![0f32; t * d];
        for (row, &id) in x.chunks_exact_mut(d).zip(tokens) {
            if id as usize >= c.vocab {
                return Err(NeuralError::Options(format!("token id {id} is outside the vocabulary of {}", c.vocab)));
            }
            self.embed.dequantize_row(data, id as usize, row);
        }
        let start = cache.len;
        let rope = rope_table(c, start, t);
        let mut h = vec![0f32; t * d];
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, c.rms_eps as f32, &mut h);
            let hq = layer.q.quantize(&h);
            let mut q = vec![0f32; t * layer.q.rows];
            layer.q.matmul(data, &hq, t, &mut q);
            let hk = layer.k.quantize(&h);
            let mut k = vec![0f32; t * layer.k.rows];
            layer.k.matmul(data, &hk, t, &mut k);
            let mut v = vec![0f32; t * layer.v.rows];
            layer.v.matmul(data, &layer.v.quantize(&h), t, &mut v);
            apply_rope(&mut q, c.head_dim, &rope);
            apply_rope(&mut k, c.head_dim, &rope);
            cache.k[l].extend(k.iter().map(|&v| f16::from_f32(v).to_f32()));
            cache.v[l].extend(v.iter().map(|&v| f16::from_f32(v).to_f32()));
            let attn = self.attention(&q, &cache.k[l], &cache.v[l], start, t);
            let mut o = vec![0f32; t * d];
            layer.o.matmul(data, &layer.o.quantize(&attn), t, &mut o);
            add(&mut x, &o);
            rms_norm(&x, &layer.ffn_norm, c.rms_eps as f32, &mut h);
            let hg = layer.gate.quantize(&h);
            let mut g = vec![0f32; t * layer.gate.rows];
            layer.gate.matmul(data, &hg, t, &mut g);
            let hu = layer.up.quantize(&h);
            let mut u = vec![0f32; t * layer.up.rows];
            layer.up.matmul(data, &hu, t, &mut u);
            for (g, u) in g.iter_mut().zip(&u) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            layer.down.matmul(data, &layer.down.quantize(&g), t, &mut o);
            add(&mut x, &o);
        }
        cache.len += t;
        rms_norm(&x, &self.norm, c.rms_eps as f32, &mut h);
        Ok(h)
    }

    /// Logits of hidden rows (`n × vocab`).
    pub fn logits(&self, hidden: &[f32]) -> Vec<f32> {
        let n = hidden.len() / self.config.hidden;
        let mut out = vec![0f32; n * self.config.vocab];
        self.output.matmul(self.file.bytes(), &self.output.quantize(hidden), n, &mut out);
        out
    }

    /// Causal attention of `t` new queries (positions `start..start + t`) over every cached key,
    /// one head per task; the query heads of a group share its key/value head.
    fn attention(&self, q: &[f32], k: &[f32], v: &[f32], start: usize, t: usize) -> Vec<f32> {
        let c = &self.config;
        let (hd, kvd, qd) = (c.head_dim, c.kv_heads * c.head_dim, c.heads * c.head_dim);
        let keys = start + t;
        let group = c.heads / c.kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let heads: Vec<Vec<f32>> = (0..c.heads)
            .into_par_iter()
            .map(|h| {
                let offset = (h / group) * hd;
                let mut out = vec![0f32; t * hd];
                let mut scores = vec![0f32; keys];
                for i in 0..t {
                    let query = &q[i * qd + h * hd..i * qd + (h + 1) * hd];
                    let seen = start + i + 1;
                    let row = &mut out[i * hd..(i + 1) * hd];
                    matmul::attend(query, k, v, (kvd, offset), scale, &mut scores[..seen], row);
                }
                out
            })
            .collect();
        let mut attn = vec![0f32; t * qd];
        for (h, out) in heads.iter().enumerate() {
            for i in 0..t {
                attn[i * qd + h * hd..i * qd + (h + 1) * hd].copy_from_slice(&out[i * hd..(i + 1) * hd]);
            }
        }
        attn
    }
}

/// ggml's `rms_norm` then `mul`: `x · 1/sqrt(mean(x²) + eps) · w`, the squares summed in f64.
fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (x, y) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let sum: f64 = x.iter().map(|v| f64::from(v * v)).sum();
        let mean = (sum / d as f64) as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
            *y = (x * scale) * w;
        }
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
}

/// `(cos, sin)` of each position's angles, `head_dim / 2` pairs a position, as ggml's
/// `rope_cache_init` makes them: the angle starts at the position and is multiplied by
/// `base^(-2/d)` pair by pair, in f32.
fn rope_table(c: &DecoderConfig, start: usize, t: usize) -> Vec<(f32, f32)> {
    let scale = (c.rope_theta as f32).powf(-2.0 / c.head_dim as f32);
    let mut table = Vec::with_capacity(t * c.head_dim / 2);
    for p in start..start + t {
        let mut theta = p as f32;
        for _ in 0..c.head_dim / 2 {
            table.push((theta.cos(), theta.sin()));
            theta *= scale;
        }
    }
    table
}

/// Rotates each head's adjacent pairs (llama.cpp's "normal" rope, which GGUF files of Llama
/// models are permuted for).
fn apply_rope(x: &mut [f32], head_dim: usize, table: &[(f32, f32)]) {
    let pairs = head_dim / 2;
    let width = x.len() / (table.len() / pairs);
    for (i, row) in x.chunks_exact_mut(width).enumerate() {
        let angles = &table[i * pairs..(i + 1) * pairs];
        for head in row.chunks_exact_mut(head_dim) {
            for (pair, &(cos, sin)) in head.chunks_exact_mut(2).zip(angles) {
                let (x0, x1) = (pair[0], pair[1]);
                pair[0] = x0 * cos - x1 * sin;
                pair[1] = x0 * sin + x1 * cos;
            }
        }
    }
}
