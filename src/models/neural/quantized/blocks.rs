//! Quantized dot products as llama.cpp computes them on x86: activations are quantized to 8 bits
//! per block of 32 (`quantize_row_q8_0` / `quantize_row_q8_1`, AVX2 arithmetic: scale
//! `max/127`, multiplier `127/max`, rounding half to even), and a weight row meets an activation
//! row block by block in integers, each block's integer sum held in eight lanes of four products,
//! scaled and fused-multiply-added into eight float lanes that are summed pairwise at the end
//! (ggml's `hsum_float_8`).
//!
//! The functions here are the portable reference: they follow that lane order exactly, so the
//! AVX2 kernels in `simd` give the same bits and a machine without AVX2 the same numbers, only
//! slower. Weight blocks are read straight from the GGUF map (layouts in ggml-common.h).

use half::f16;

/// Values per block of the legacy quantization types and of the activations.
pub const QK: usize = 32;
pub const Q4_0_BYTES: usize = 18;
pub const Q4_1_BYTES: usize = 20;
pub const Q8_0_BYTES: usize = 34;
pub const Q5_0_BYTES: usize = 22;
pub const Q5_1_BYTES: usize = 24;

/// An activation block quantized for Q4_0 and Q8_0 weights (`block_q8_0`); the scale is kept as
/// the f32 value of the f16 llama.cpp stores.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(8))]
pub struct Q8_0 {
    pub d: f32,
    pub qs: [i8; QK],
}

/// An activation block quantized for Q4_1 weights (`block_q8_1`): `s` is `d` times the sum of
/// the quants, which carries the weights' offsets.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(8))]
pub struct Q8_1 {
    pub d: f32,
    pub s: f32,
    pub qs: [i8; QK],
}

impl Default for Q8_0 {
    fn default() -> Self {
        Q8_0 { d: 0.0, qs: [0; QK] }
    }
}

impl Default for Q8_1 {
    fn default() -> Self {
        Q8_1 { d: 0.0, s: 0.0, qs: [0; QK] }
    }
}

pub fn half(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

fn round_f16(v: f32) -> f32 {
    f16::from_f32(v).to_f32()
}

/// One block's scale and quants: `d = max|x| / 127` and `q = round_half_even(x * 127 / max)`.
fn quantize_block(x: &[f32], qs: &mut [i8; QK]) -> f32 {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let id = if max != 0.0 { 127.0 / max } else { 0.0 };
    // Half to even by the 1.5·2²³ trick (|v·id| ≤ 127): `round_ties_even` is a libm call
    // without SSE4.1 and took a tenth of the run.
    const MAGIC: f32 = 12_582_912.0;
    for (q, v) in qs.iter_mut().zip(x) {
        *q = ((v * id + MAGIC) - MAGIC) as i8;
    }
    max / 127.0
}

pub fn quantize_q8_0(x: &[f32], out: &mut [Q8_0]) {
    for (block, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        block.d = round_f16(quantize_block(x, &mut block.qs));
    }
}

pub fn quantize_q8_1(x: &[f32], out: &mut [Q8_1]) {
    for (block, x) in out.iter_mut().zip(x.chunks_exact(QK)) {
        let d = quantize_block(x, &mut block.qs);
        let sum: i32 = block.qs.iter().map(|&q| i32::from(q)).sum();
        block.d = round_f16(d);
        block.s = round_f16(d * sum as f32);
    }
}

/// ggml's `hsum_float_8`: halves added, then pairs, then the last two.
pub fn hsum8(acc: [f32; 8]) -> f32 {
    let r: [f32; 4] = std::array::from_fn(|i| acc[i + 4] + acc[i]);
    (r[0] + r[2]) + (r[1] + r[3])
}

/// The integer sums of a block's 32 products in eight lanes of four (what `maddubs` + `madd`
/// or `dpbusd` leave), added into the float lanes as `fma(scale, lane, acc)`.
fn accumulate(acc: &mut [f32; 8], scale: f32, x: &[i32; QK], y: &[i8; QK]) {
    for (lane, a) in acc.iter_mut().enumerate() {
        let s: i32 = (0..4).map(|k| x[lane * 4 + k] * i32::from(y[lane * 4 + k])).sum();
        *a = scale.mul_add(s as f32, *a);
    }
}

/// A nibble block unpacked: element j is the low nibble of byte j, element j+16 the high one.
fn nibbles(qs: &[u8], offset: i32) -> [i32; QK] {
    std::array::from_fn(|e| i32::from(if e < 16 { qs[e] & 0xF } else { qs[e - 16] >> 4 }) - offset)
}

pub fn dot_q4_0(w: &[u8], y: &[Q8_0]) -> f32 {
    let mut acc = [0f32; 8];
    for (b, y) in w.chunks_exact(Q4_0_BYTES).zip(y) {
        accumulate(&mut acc, half(b, 0) * y.d, &nibbles(&b[2..], 8), &y.qs);
    }
    hsum8(acc)
}

pub fn dot_q4_1(w: &[u8], y: &[Q8_1]) -> f32 {
    let mut acc = [0f32; 8];
    let mut offsets = 0f32;
    for (b, y) in w.chunks_exact(Q4_1_BYTES).zip(y) {
        offsets = half(b, 2).mul_add(y.s, offsets);
        accumulate(&mut acc, half(b, 0) * y.d, &nibbles(&b[4..], 0), &y.qs);
    }
    hsum8(acc) + offsets
}

/// A Q5 block's values: nibbles as [`nibbles`], the fifth bit of element j is bit j of `qh`.
fn fives(qh: &[u8], qs: &[u8], offset: i32) -> [i32; QK] {
    let high = u32::from_le_bytes(qh[..4].try_into().expect("4 bytes"));
    let low = nibbles(qs, 0);
    std::array::from_fn(|e| (low[e] | (((high >> e) & 1) << 4) as i32) - offset)
}

pub fn dot_q5_0(w: &[u8], y: &[Q8_0]) -> f32 {
    let mut acc = [0f32; 8];
    for (b, y) in w.chunks_exact(Q5_0_BYTES).zip(y) {
        accumulate(&mut acc, half(b, 0) * y.d, &fives(&b[2..6], &b[6..], 16), &y.qs);
    }
    hsum8(acc)
}

pub fn dot_q5_1(w: &[u8], y: &[Q8_1]) -> f32 {
    let mut acc = [0f32; 8];
    let mut offsets = 0f32;
    for (b, y) in w.chunks_exact(Q5_1_BYTES).zip(y) {
        offsets = half(b, 2).mul_add(y.s, offsets);
        accumulate(&mut acc, half(b, 0) * y.d, &fives(&b[4..8], &b[8..], 0), &y.qs);
    }
    hsum8(acc) + offsets
}

pub fn dot_q8_0(w: &[u8], y: &[Q8_0]) -> f32 {
    let mut acc = [0f32; 8];
    for (b, y) in w.chunks_exact(Q8_0_BYTES).zip(y) {
        let x: [i32; QK] = std::array::from_fn(|e| i32::from(b[2 + e] as i8));
        accumulate(&mut acc, half(b, 0) * y.d, &x, &y.qs);
    }
    hsum8(acc)
}

/// One query's attention over the first `scores.len()` cached positions: `out` (zeroed) gets
/// `Σ softmax(q·k_j · scale)_j v_j`, key and value `j` at `keys[j * stride + offset..][..d]`.
/// The dot product and the accumulation are passed in, so the portable path and the AVX2 one
/// (which inlines this into a function compiled for AVX2) run the same steps.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn attend_with(
    dot: impl Fn(&[f32], &[f32]) -> f32,
    axpy: impl Fn(&mut [f32], f32, &[f32]),
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    (stride, offset): (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let d = query.len();
    let mut max = f32::NEG_INFINITY;
    for (j, s) in scores.iter_mut().enumerate() {
        *s = dot(query, &keys[j * stride + offset..][..d]) * scale;
        max = max.max(*s);
    }
    let mut sum = 0f32;
    for (j, s) in scores.iter().enumerate() {
        let e = (s - max).exp();
        sum += e;
        axpy(out, e, &values[j * stride + offset..][..d]);
    }
    let inv = if sum == 0.0 { 0.0 } else { 1.0 / sum };
    out.iter_mut().for_each(|v| *v *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_q4_1(d: f32, m: f32, nibbles: &[u8; QK]) -> Vec<u8> {
        let mut b = Vec::with_capacity(Q4_1_BYTES);
        b.extend(f16::from_f32(d).to_le_bytes());
        b.extend(f16::from_f32(m).to_le_bytes());
        b.extend((0..16).map(|j| nibbles[j] | (nibbles[j + 16] << 4)));
        b
    }

    #[test]
    fn quantized_dot_is_close_to_the_float_dot_it_stands_for() {
        let x: Vec<f32> = (0..64).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
        let mut y = vec![Q8_1::default(); 2];
        quantize_q8_1(&x, &mut y);
        let nib: [u8; QK] = std::array::from_fn(|j| (j * 5 % 16) as u8);
        let (d, m) = (0.125f32, -1.0f32);
        let w: Vec<u8> = [block_q4_1(d, m, &nib), block_q4_1(d, m, &nib)].concat();
        let exact: f32 = x.iter().enumerate().map(|(i, v)| v * (d * f32::from(nib[i % QK]) + m)).sum();
        let got = dot_q4_1(&w, &y);
        assert!((got - exact).abs() < 0.02 * exact.abs().max(1.0), "{got} vs {exact}");
    }

    #[test]
    fn q5_dots_equal_the_dequantized_dot() {
        use crate::models::neural::gguf::{GgmlType, dequantize_blocks};
        let x: Vec<f32> = (0..64).map(|i| ((i * 41 % 29) as f32 - 14.0) / 5.0).collect();
        let (mut y0, mut y1) = (vec![Q8_0::default(); 2], vec![Q8_1::default(); 2]);
        quantize_q8_0(&x, &mut y0);
        quantize_q8_1(&x, &mut y1);
        let x0: Vec<f32> = y0.iter().flat_map(|b| b.qs.map(|q| f32::from(q) * b.d)).collect();
        let x1: Vec<f32> = y1.iter().flat_map(|b| b.qs.map(|q| f32::from(q) * b.d)).collect();
        for (ty, bytes) in [(GgmlType::Q5_0, Q5_0_BYTES), (GgmlType::Q5_1, Q5_1_BYTES)] {
            let mut w: Vec<u8> = (0..2 * bytes).map(|i| (i * 97 % 253) as u8).collect();
            for b in w.chunks_exact_mut(bytes) {
                b[..4].copy_from_slice(&[0x00, 0x2c, 0x00, 0xac]); // d = 1/16, m = -1/16
            }
            let mut wf = vec![0f32; 64];
            dequantize_blocks(ty, &w, &mut wf);
            let xq = if ty == GgmlType::Q5_0 { &x0 } else { &x1 };
            let exact: f32 = wf.iter().zip(xq).map(|(a, b)| a * b).sum();
            let got = if ty == GgmlType::Q5_0 { dot_q5_0(&w, &y0) } else { dot_q5_1(&w, &y1) };
            assert!((got - exact).abs() < 1e-3 * exact.abs().max(1.0), "{ty:?}: {got} vs {exact}");
        }
    }

    #[test]
    fn activation_quantization_rounds_half_to_even_and_keeps_the_sum() {
        // max 127 → multiplier 1: 0.5 rounds to 0, 1.5 and 2.5 to 2.
        let mut x = vec![0f32; QK];
        x[0] = 127.0;
        x[1] = 0.5;
        x[2] = 1.5;
        x[3] = 2.5;
        x[4] = -2.5;
        let mut y = [Q8_1::default()];
        quantize_q8_1(&x, &mut y);
        assert_eq!(&y[0].qs[..5], &[127, 0, 2, 2, -2]);
        assert_eq!(y[0].d, 1.0);
        assert_eq!(y[0].s, 129.0);
        let mut z = [Q8_0::default()];
        quantize_q8_0(&[0.0; QK], &mut z);
        assert_eq!((z[0].d, z[0].qs), (0.0, [0; QK]));
    }
}
