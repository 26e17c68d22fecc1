//! The decoder networks of GGUF files (Llama, Qwen2, Gemma 3) computed the way llama.cpp computes them
//! on a CPU: the weights stay quantized in the file's map, each matrix product quantizes its
//! input rows to 8 bits ([`super::matmul`]), the key/value cache holds f16 (llama.cpp's default
//! cache type), and the rest is f32 in llama.cpp's order of operations: RMS norm with its sum of
//! squares in f64, rotary embeddings with angles `p · base^(-2i/d)` multiplied up in f32 — on
//! adjacent pairs for Llama (GGUF's Q and K rows are permuted for that), on the two halves of
//! each head for Gemma (llama.cpp's NEOX rope) — attention in f32 over the f16 keys and values,
//! SwiGLU or GeGLU (GELU read from ggml's f16 table, as ggml does), and a final norm before the
//! output head (the token embedding when the file ties them).
//!
//! Gemma 3 adds what its llama.cpp graph adds: the embedding scaled by `sqrt(d)`, per-head RMS
//! norms of queries and keys before the rope, queries scaled by `f_attention_scale` before
//! attention, norms after attention and after the MLP, sliding-window layers with their own
//! rope base. GGUF stores Gemma's norms with the `1 +` already added.

use std::sync::OnceLock;

use half::f16;
use rayon::prelude::*;

use super::matmul::{self, Weight};
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;
use crate::models::neural::decoders::{self, DecoderConfig, PairLayout, RopeScaling};
use crate::models::neural::gguf::Gguf;

struct Layer {
    attn_norm: Vec<f32>,
    q: Weight,
    k: Weight,
    v: Weight,
    /// Qwen2: biases of the query, key and value projections.
    qkv_bias: Option<[Vec<f32>; 3]>,
    /// Gemma 3: per-head norms of queries and keys.
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    o: Weight,
    /// Gemma: the norm of the attention output before the residual sum.
    post_attn_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate: Weight,
    up: Weight,
    down: Weight,
    /// Gemma: the norm of the MLP output before the residual sum.
    post_ffn_norm: Option<Vec<f32>>,
}

pub struct QuantDecoder {
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

impl QuantDecoder {
    pub fn load(file: Gguf) -> Result<Self, NeuralError> {
        let c = decoders::from_gguf(&file)?;
        if c.o_bias || c.mlp_bias {
            return Err(NeuralError::file(
                &file.path,
                "output-projection and MLP biases are not supported by quantized compute (compute: f32 runs them)",
            ));
        }
        if !matches!(c.rope_scaling, RopeScaling::None | RopeScaling::Linear { .. } | RopeScaling::FreqFactors { .. }) {
            return Err(NeuralError::file(
                &file.path,
                "quantized compute runs unscaled, linearly scaled or factor-scaled rope only (compute: f32 runs the others)",
            ));
        }
        if c.gemma.as_ref().is_some_and(|g| g.attn_softcap.is_some()) {
            return Err(NeuralError::file(
                &file.path,
                "attention soft-capping is not supported by quantized compute (compute: f32 runs it)",
            ));
        }
        if !matches!(c.activation, Activation::Silu | Activation::GeluTanh) {
            return Err(NeuralError::file(&file.path, "quantized compute runs SwiGLU and GeGLU MLPs only"));
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
        let gemma = c.gemma.is_some();
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let w = |name: &str, rows, cols| Weight::open(&file, &format!("blk.{i}.{name}.weight"), rows, cols);
            let norm = |name: &str, len: usize| f32s(&format!("blk.{i}.{name}.weight"), len);
            let when = |on: bool, name: &str, len: usize| on.then(|| norm(name, len)).transpose();
            layers.push(Layer {
                attn_norm: norm("attn_norm", d)?,
                q: w("attn_q", c.heads * c.head_dim, d)?,
                k: w("attn_k", kv, d)?,
                v: w("attn_v", kv, d)?,
                qkv_bias: if c.qkv_bias {
                    let bias = |name: &str, len| f32s(&format!("blk.{i}.{name}.bias"), len);
                    Some([bias("attn_q", c.heads * c.head_dim)?, bias("attn_k", kv)?, bias("attn_v", kv)?])
                } else {
                    None
                },
                q_norm: when(c.qk_norm, "attn_q_norm", c.head_dim)?,
                k_norm: when(c.qk_norm, "attn_k_norm", c.head_dim)?,
                o: w("attn_output", d, c.heads * c.head_dim)?,
                post_attn_norm: when(gemma, "post_attention_norm", d)?,
                ffn_norm: norm("ffn_norm", d)?,
                gate: w("ffn_gate", ff, d)?,
                up: w("ffn_up", ff, d)?,
                down: w("ffn_down", d, ff)?,
                post_ffn_norm: when(gemma, "post_ffw_norm", d)?,
            });
        }
        let embed = Weight::open(&file, "token_embd.weight", c.vocab, d)?;
        let output = if c.tied { embed.clone() } else { Weight::open(&file, "output.weight", c.vocab, d)? };
        let norm = f32s("output_norm.weight", d)?;
        Ok(QuantDecoder { config: c, file, embed, layers, norm, output })
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
        let (t, d, hd) = (tokens.len(), c.hidden, c.head_dim);
        let data = self.file.bytes();
        let mut x = vec![0f32; t * d];
        for (row, &id) in x.chunks_exact_mut(d).zip(tokens) {
            if id as usize >= c.vocab {
                return Err(NeuralError::Options(format!("token id {id} is outside the vocabulary of {}", c.vocab)));
            }
            self.embed.dequantize_row(data, id as usize, row);
        }
        let eps = c.rms_eps as f32;
        let gemma = c.gemma.as_ref();
        if gemma.is_some() {
            // ggml_scale(inpL, sqrtf(n_embd)).
            let scale = (d as f32).sqrt();
            x.iter_mut().for_each(|v| *v *= scale);
        }
        // llama.cpp's f_attention_scale scales Gemma's queries before attention, whose own scale
        // is then 1; Llama's attention scales its scores by 1/sqrt(head size).
        let (q_scale, kq_scale) = match gemma {
            Some(g) => (Some(1.0 / (g.query_pre_attn_scalar as f32).sqrt()), 1.0),
            None => (None, 1.0 / (hd as f32).sqrt()),
        };
        let start = cache.len;
        // Rope scaling (llama.cpp's freq_scale and freq_factors) applies to the global layers only.
        let (freq_scale, factors): (f32, Option<Vec<f32>>) = match &c.rope_scaling {
            RopeScaling::Linear { factor } => ((1.0 / factor) as f32, None),
            RopeScaling::FreqFactors { factors } => (1.0, Some(factors.iter().map(|&f| f as f32).collect())),
            _ => (1.0, None),
        };
        let rope = rope_table(c.rope_theta, hd, start, t, freq_scale, factors.as_deref());
        let local_rope = c.local_rope_theta.map(|theta| rope_table(theta, hd, start, t, 1.0, None));
        let mut h = vec![0f32; t * d];
        let mut o = vec![0f32; t * d];
        for (l, layer) in self.layers.iter().enumerate() {
            let local = c.is_local(l);
            let rope = if local { local_rope.as_ref().unwrap_or(&rope) } else { &rope };
            rms_norm(&x, &layer.attn_norm, eps, &mut h);
            let [mut q, mut k, mut v] = project(data, &h, t, [&layer.q, &layer.k, &layer.v]);
            if let Some([bq, bk, bv]) = &layer.qkv_bias {
                add_rows(&mut q, bq);
                add_rows(&mut k, bk);
                add_rows(&mut v, bv);
            }
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                norm_in_place(&mut q, qn, eps);
                norm_in_place(&mut k, kn, eps);
            }
            apply_rope(&mut q, hd, rope, c.pairs);
            apply_rope(&mut k, hd, rope, c.pairs);
            if let Some(s) = q_scale {
                q.iter_mut().for_each(|v| *v *= s);
            }
            cache.k[l].extend(k.iter().map(|&v| f16::from_f32(v).to_f32()));
            cache.v[l].extend(v.iter().map(|&v| f16::from_f32(v).to_f32()));
            let window = if local { c.window } else { None };
            let attn = self.attention(&q, &cache.k[l], &cache.v[l], start, t, kq_scale, window);
            layer.o.matmul(data, &layer.o.quantize(&attn), t, &mut o);
            if let Some(n) = &layer.post_attn_norm {
                norm_in_place(&mut o, n, eps);
            }
            add(&mut x, &o);
            rms_norm(&x, &layer.ffn_norm, eps, &mut h);
            let [mut g, u] = project(data, &h, t, [&layer.gate, &layer.up]);
            match c.activation {
                Activation::GeluTanh => g.iter_mut().zip(&u).for_each(|(g, u)| *g = geglu(*g, *u)),
                _ => g.iter_mut().zip(&u).for_each(|(g, u)| *g = *g / (1.0 + (-*g).exp()) * u),
            }
            layer.down.matmul(data, &layer.down.quantize(&g), t, &mut o);
            if let Some(n) = &layer.post_ffn_norm {
                norm_in_place(&mut o, n, eps);
            }
            add(&mut x, &o);
        }
        cache.len += t;
        rms_norm(&x, &self.norm, eps, &mut h);
        Ok(h)
    }

    /// Logits of hidden rows (`n × vocab`).
    pub fn logits(&self, hidden: &[f32]) -> Vec<f32> {
        let n = hidden.len() / self.config.hidden;
        let mut out = vec![0f32; n * self.config.vocab];
        self.output.matmul(self.file.bytes(), &self.output.quantize(hidden), n, &mut out);
        if let Some(cap) = self.config.gemma.as_ref().and_then(|g| g.final_softcap) {
            // ggml: scale by 1/cap, tanh, scale by cap.
            let (inv, cap) = (1.0 / cap as f32, cap as f32);
            out.iter_mut().for_each(|v| *v = (*v * inv).tanh() * cap);
        }
        out
    }

    /// Causal attention of `t` new queries (positions `start..start + t`) over every cached key,
    /// or the `window` most recent ones, one head per task; the query heads of a group share
    /// its key/value head. Keys outside the window are left out rather than masked: their
    /// weight would be exactly zero.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        start: usize,
        t: usize,
        scale: f32,
        window: Option<usize>,
    ) -> Vec<f32> {
        let c = &self.config;
        let (hd, kvd, qd) = (c.head_dim, c.kv_heads * c.head_dim, c.heads * c.head_dim);
        let keys = start + t;
        let group = c.heads / c.kv_heads;
        let heads: Vec<Vec<f32>> = (0..c.heads)
            .into_par_iter()
            .map(|h| {
                let offset = (h / group) * hd;
                let mut out = vec![0f32; t * hd];
                let mut scores = vec![0f32; keys];
                for i in 0..t {
                    let query = &q[i * qd + h * hd..i * qd + (h + 1) * hd];
                    let seen = start + i + 1;
                    let first = window.map_or(0, |w| seen.saturating_sub(w));
                    let (k, v) = (&k[first * kvd..], &v[first * kvd..]);
                    let row = &mut out[i * hd..(i + 1) * hd];
                    matmul::attend(query, k, v, (kvd, offset), scale, &mut scores[..seen - first], row);
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

/// `t` rows of `x` times each weight; the rows are quantized once for all the weights that take
/// the same activations (Gemma 3's Q5_0 and Q8_0 projections share one Q8_0 quantization).
fn project<const N: usize>(data: &[u8], x: &[f32], t: usize, weights: [&Weight; N]) -> [Vec<f32>; N] {
    let mut quantized: Vec<(&Weight, matmul::Activations)> = Vec::with_capacity(N);
    weights.map(|w| {
        let i = match quantized.iter().position(|(u, _)| u.shares_activations(w)) {
            Some(i) => i,
            None => {
                quantized.push((w, w.quantize(x)));
                quantized.len() - 1
            }
        };
        let mut out = vec![0f32; t * w.rows];
        w.matmul(data, &quantized[i].1, t, &mut out);
        out
    })
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

/// ggml_add of a bias broadcast over rows.
fn add_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add(row, bias);
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
}

/// ggml's `rms_norm` then `mul` applied to each `w.len()` slice of `x` (Gemma 3's per-head
/// query and key norms, and the norms after attention and the MLP).
fn norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    let normed = {
        let mut out = vec![0f32; x.len()];
        rms_norm(x, w, eps, &mut out);
        out
    };
    x.copy_from_slice(&normed);
}

/// ggml's f32 GeGLU: GELU of the gate read from the f16 table ggml fills at start-up
/// (`ggml_table_gelu_f16`, the tanh approximation), times the up projection; outside ±10 the
/// gate is taken as 0 or as itself.
fn geglu(gate: f32, up: f32) -> f32 {
    if gate <= -10.0 {
        0.0
    } else if gate >= 10.0 {
        gate * up
    } else {
        gelu_table()[f16::from_f32(gate).to_bits() as usize].to_f32() * up
    }
}

fn gelu_table() -> &'static [f16] {
    static TABLE: OnceLock<Vec<f16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        const GELU_COEF_A: f32 = 0.044715;
        (0..=u16::MAX)
            .map(|bits| {
                let x = f16::from_bits(bits).to_f32();
                f16::from_f32(0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)).tanh()))
            })
            .collect()
    })
}

/// `(cos, sin)` of each position's angles, `head_dim / 2` pairs a position, as ggml's
/// `rope_cache_init` makes them: `theta` starts at the position and is multiplied by
/// `base^(-2/d)` pair by pair, in f32; each pair's angle is `freq_scale · (theta / factor)`.
fn rope_table(
    base: f64,
    head_dim: usize,
    start: usize,
    t: usize,
    freq_scale: f32,
    factors: Option<&[f32]>,
) -> Vec<(f32, f32)> {
    let scale = (base as f32).powf(-2.0 / head_dim as f32);
    let mut table = Vec::with_capacity(t * head_dim / 2);
    for p in start..start + t {
        let mut theta = p as f32;
        for i in 0..head_dim / 2 {
            let factor = factors.map_or(1.0, |f| f[i]);
            let angle = freq_scale * (theta / factor);
            table.push((angle.cos(), angle.sin()));
            theta *= scale;
        }
    }
    table
}

/// Rotates each head's pairs: adjacent ones (llama.cpp's "normal" rope, which GGUF files of
/// Llama models are permuted for) or element `i` with `i + d/2` (its NEOX rope).
fn apply_rope(x: &mut [f32], head_dim: usize, table: &[(f32, f32)], pairs: PairLayout) {
    let half = head_dim / 2;
    let width = x.len() / (table.len() / half);
    for (i, row) in x.chunks_exact_mut(width).enumerate() {
        let angles = &table[i * half..(i + 1) * half];
        for head in row.chunks_exact_mut(head_dim) {
            for (j, &(cos, sin)) in angles.iter().enumerate() {
                let (a, b) = match pairs {
                    PairLayout::Adjacent => (2 * j, 2 * j + 1),
                    PairLayout::Halves => (j, j + half),
                };
                let (x0, x1) = (head[a], head[b]);
                head[a] = x0 * cos - x1 * sin;
                head[b] = x0 * sin + x1 * cos;
            }
        }
    }
}
