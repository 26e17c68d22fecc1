//! Rotary position embeddings of the decoder networks, as transformers 4.46 computes them: the
//! inverse frequencies `1 / θ^(2i/d)` in f32, rescaled as the configuration's `rope_scaling`
//! says (`linear`, `llama3`, Phi-3's `longrope`), and `cos`/`sin` of `position · frequency`.
//!
//! `longrope` chooses its factors by the length of each sequence (transformers: the largest
//! position of the forward call, plus one); lmgauge batches and packs sequences that
//! transformers would run one at a time, so the choice is made per sequence — per row, or per
//! packed segment — which is what transformers computes for each sequence alone.

use std::f64::consts::PI;

use tch::{Device, Kind, Tensor};

use super::attention::Attend;
use crate::models::neural::decoders::{DecoderConfig, RopeScaling};

pub struct Rope {
    /// Inverse frequencies `[d/2]` (longrope: with the short factors).
    inv_freq: Tensor,
    /// longrope: the inverse frequencies with the long factors, and the length beyond which a
    /// sequence uses them.
    long: Option<(Tensor, i64)>,
    /// longrope's multiplier of cos and sin (1 otherwise).
    attention_factor: f64,
}

impl Rope {
    pub fn new(c: &DecoderConfig, device: Device) -> Self {
        let hd = c.head_dim as i64;
        let exponents =
            Tensor::arange_start_step(0, hd, 2, (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) / hd as f64;
        // transformers: inv_freq = 1 / theta^(arange(0, dim, 2) / dim), in f32.
        let plain = || Tensor::from(c.rope_theta as f32).pow(&exponents).reciprocal();
        let (inv_freq, long, attention_factor) = match &c.rope_scaling {
            RopeScaling::None | RopeScaling::Dynamic { .. } => (plain(), None, 1.0),
            RopeScaling::Linear { factor } => (plain() / *factor, None, 1.0),
            RopeScaling::FreqFactors { factors } => {
                let f: Vec<f32> = factors.iter().map(|&v| v as f32).collect();
                (plain() / Tensor::from_slice(&f), None, 1.0)
            }
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_context } => {
                (llama3(&plain(), *factor, *low_freq_factor, *high_freq_factor, *original_context as f64), None, 1.0)
            }
            RopeScaling::LongRope { short, long, original_context } => {
                let powers = Tensor::from(c.rope_theta as f32).pow(&exponents);
                let with = |factors: &[f64]| {
                    let f: Vec<f32> = factors.iter().map(|&v| v as f32).collect();
                    (Tensor::from_slice(&f) * &powers).reciprocal()
                };
                let scale = c.context as f64 / *original_context as f64;
                let factor =
                    if scale <= 1.0 { 1.0 } else { (1.0 + scale.ln() / (*original_context as f64).ln()).sqrt() };
                (with(short), Some((with(long).to_device(device), *original_context as i64)), factor)
            }
        };
        Rope { inv_freq: inv_freq.to_device(device), long, attention_factor }
    }

    /// `(cos, sin)` `[batch or 1, 1, seq, d]` of `positions` `[batch or 1, seq]`, in `kind`.
    pub fn cos_sin(&self, positions: &Tensor, attend: &Attend, kind: Kind) -> (Tensor, Tensor) {
        let angles = |inv_freq: &Tensor| {
            // transformers: freqs = positions ⊗ inv_freq in f32, emb = [freqs, freqs].
            let freqs = positions.to_kind(Kind::Float).unsqueeze(-1) * inv_freq;
            Tensor::cat(&[&freqs, &freqs], -1)
        };
        let emb = angles(&self.inv_freq);
        let (cos, sin) = match &self.long {
            None => (emb.cos(), emb.sin()),
            Some((long_freq, original)) => {
                let long = sequence_lengths(positions, attend).gt(*original).unsqueeze(-1);
                let long_emb = angles(long_freq);
                let f = self.attention_factor;
                (long_emb.cos().where_self(&long, &emb.cos()) * f, long_emb.sin().where_self(&long, &emb.sin()) * f)
            }
        };
        (cos.unsqueeze(-3).to_kind(kind), sin.unsqueeze(-3).to_kind(kind))
    }
}

/// The length of the sequence each position belongs to (`[batch, seq]`, or `[batch, 1]`): its
/// packed segment's, or else its row's largest position plus one.
fn sequence_lengths(positions: &Tensor, attend: &Attend) -> Tensor {
    match attend {
        Attend::Segments(rows) => {
            let width = positions.size()[1] as usize;
            let mut lengths = vec![0i64; rows.len() * width];
            for (r, segments) in rows.iter().enumerate() {
                for &(start, len) in segments {
                    let at = r * width + start as usize;
                    lengths[at..at + len as usize].fill(len);
                }
            }
            Tensor::from_slice(&lengths).view([rows.len() as i64, width as i64]).to_device(positions.device())
        }
        _ => positions.amax([-1].as_slice(), true) + 1,
    }
}

/// transformers' `_compute_llama3_parameters`: wavelengths longer than
/// `original / low_freq_factor` are divided by `factor`, shorter than `original /
/// high_freq_factor` kept, and those between interpolated.
fn llama3(inv_freq: &Tensor, factor: f64, low: f64, high: f64, original: f64) -> Tensor {
    let (low_wavelen, high_wavelen) = (original / low, original / high);
    let wavelen = inv_freq.reciprocal() * (2.0 * PI);
    let scaled = (inv_freq / factor).where_self(&wavelen.gt(low_wavelen), inv_freq);
    let smooth = (wavelen.reciprocal() * original - low) / (high - low);
    let smoothed = (smooth.neg() + 1.0) * &scaled / factor + &smooth * &scaled;
    let medium = wavelen.lt(high_wavelen).logical_not().logical_and(&wavelen.gt(low_wavelen).logical_not());
    smoothed.where_self(&medium, &scaled)
}
