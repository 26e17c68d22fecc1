//! K-quant weights (Q4_K, Q6_K: super-blocks of 256 values with 6- and 8-bit sub-block scales)
//! against activations quantized to Q8_K, as llama.cpp computes them on x86:
//! `quantize_row_q8_K_ref` for the activations (multiplier `−127/max` of the value of largest
//! magnitude, rounding half to even, sums of every 16 quants), and the AVX2 dot products
//! `ggml_vec_dot_q4_K_q8_K` / `ggml_vec_dot_q6_K_q8_K`.
//!
//! Their integer sums are exact whatever the order; what fixes the bits is the float arithmetic:
//! each super-block's sums sit in eight lanes (lane k holds the products of bytes 4k..4k+3 of
//! every 32-byte run) and are fused-multiply-added into eight float lanes, summed at the end by
//! `hsum_float_8`; Q4_K's minimums go through four lanes of their own. The portable functions
//! follow those lanes; the AVX2 ones are ggml's, instruction for instruction, and give the same
//! bits (unit test). Layouts: ggml-common.h.

use super::blocks::{half, hsum8};

/// Values per super-block.
pub const QK_K: usize = 256;
/// `d`, `dmin` (f16), 12 bytes of packed 6-bit scales and minimums, 128 bytes of nibbles.
pub const Q4_K_BYTES: usize = 144;
/// 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, `d` (f16).
pub const Q6_K_BYTES: usize = 210;

/// An activation super-block (`block_q8_K`).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub struct Q8K {
    pub qs: [i8; QK_K],
    pub bsums: [i16; 16],
    pub d: f32,
}

impl Default for Q8K {
    fn default() -> Self {
        Q8K { qs: [0; QK_K], bsums: [0; 16], d: 0.0 }
    }
}

/// `quantize_row_q8_K_ref`.
pub fn quantize_q8_k(x: &[f32], out: &mut [Q8K]) {
    const MAGIC: f32 = 12_582_912.0;
    for (b, x) in out.iter_mut().zip(x.chunks_exact(QK_K)) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in x {
            if v.abs() > amax {
                (amax, max) = (v.abs(), v);
            }
        }
        if amax == 0.0 {
            *b = Q8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, v) in b.qs.iter_mut().zip(x) {
            *q = (((iscale * v + MAGIC) - MAGIC) as i32).min(127) as i8;
        }
        for (s, q) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = q.iter().map(|&q| i16::from(q)).sum();
        }
        b.d = 1.0 / iscale;
    }
}

/// The 6-bit scale and minimum of sub-block `j` (`get_scale_min_k4`).
fn scale_min(j: usize, q: &[u8]) -> (i32, i32) {
    let (d, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    };
    (i32::from(d), i32::from(m))
}

/// Lane `k` of a 32-byte run: the sum of its products at bytes 4k..4k+3.
fn lane(k: usize, w: impl Fn(usize) -> i32, y: &[i8]) -> i32 {
    (4 * k..4 * k + 4).map(|b| w(b) * i32::from(y[b])).sum()
}

pub fn dot_q4_k(w: &[u8], y: &[Q8K]) -> f32 {
    let (mut acc, mut acc_m) = ([0f32; 8], [0f32; 4]);
    for (b, y) in w.chunks_exact(Q4_K_BYTES).zip(y) {
        let d = y.d * half(b, 0);
        let dmin = -y.d * half(b, 2);
        let (scales, qs) = (&b[4..16], &b[16..]);
        let sm: [(i32, i32); 8] = std::array::from_fn(|j| scale_min(j, scales));
        for (l, a) in acc_m.iter_mut().enumerate() {
            let pair = |i: usize| i32::from(y.bsums[2 * i]) + i32::from(y.bsums[2 * i + 1]);
            let prod = sm[2 * l].1 * pair(2 * l) + sm[2 * l + 1].1 * pair(2 * l + 1);
            *a = dmin.mul_add(prod as f32, *a);
        }
        for (k, a) in acc.iter_mut().enumerate() {
            let mut sum = 0;
            for j in 0..4 {
                let run = &qs[32 * j..32 * j + 32];
                sum += sm[2 * j].0 * lane(k, |i| i32::from(run[i] & 0xF), &y.qs[64 * j..]);
                sum += sm[2 * j + 1].0 * lane(k, |i| i32::from(run[i] >> 4), &y.qs[64 * j + 32..]);
            }
            *a = d.mul_add(sum as f32, *a);
        }
    }
    hsum8(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]))
}

/// The 6-bit quant `b` of run `c` (0..4) of half `j` of a Q6_K block, less 32.
fn q6(ql: &[u8], qh: &[u8], j: usize, c: usize, b: usize) -> i32 {
    let low = ql[64 * j + 32 * (c & 1) + b];
    let low = if c < 2 { low & 0xF } else { low >> 4 };
    let high = (qh[32 * j + b] >> (2 * c)) & 3;
    i32::from(low | (high << 4)) - 32
}

pub fn dot_q6_k(w: &[u8], y: &[Q8K]) -> f32 {
    let mut acc = [0f32; 8];
    for (b, y) in w.chunks_exact(Q6_K_BYTES).zip(y) {
        let (ql, qh) = (&b[..128], &b[128..192]);
        let scales: [i32; 16] = std::array::from_fn(|i| i32::from(b[192 + i] as i8));
        let d = y.d * half(b, 208);
        for (k, a) in acc.iter_mut().enumerate() {
            let mut sum = 0;
            for j in 0..2 {
                for c in 0..4 {
                    let scale = scales[8 * j + 2 * c + usize::from(k >= 4)];
                    sum += scale * lane(k, |i| q6(ql, qh, j, c, i), &y.qs[128 * j + 32 * c..]);
                }
            }
            *a = d.mul_add(sum as f32, *a);
        }
    }
    hsum8(acc)
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! ggml's AVX2 `ggml_vec_dot_q4_K_q8_K` and `ggml_vec_dot_q6_K_q8_K`.

    use std::arch::x86_64::*;

    use super::{Q4_K_BYTES, Q6_K_BYTES, Q8K};
    use crate::models::neural::quantized::blocks::half;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum8(v: __m256) -> f32 {
        let r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
        let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)))
    }

    /// # Safety
    /// AVX2 and FMA; `y` has a block for each of `w`'s.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_q4_k(w: &[u8], y: &[Q8K]) -> f32 {
        const KMASK1: u32 = 0x3f3f3f3f;
        const KMASK2: u32 = 0x0f0f0f0f;
        const KMASK3: u32 = 0x03030303;
        let m4 = _mm256_set1_epi8(0xF);
        let (mut acc, mut acc_m) = (_mm256_setzero_ps(), _mm_setzero_ps());
        for (b, y) in w.chunks_exact(Q4_K_BYTES).zip(y) {
            let d = y.d * half(b, 0);
            let dmin = -y.d * half(b, 2);
            let mut u = [0u32; 4];
            for (i, u) in u.iter_mut().take(3).enumerate() {
                *u = u32::from_le_bytes(b[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes"));
            }
            u[3] = ((u[2] >> 4) & KMASK2) | (((u[1] >> 6) & KMASK3) << 4);
            let uaux = u[1] & KMASK1;
            u[1] = (u[2] & KMASK2) | (((u[0] >> 6) & KMASK3) << 4);
            u[2] = uaux;
            u[0] &= KMASK1;
            unsafe {
                let mins_and_scales =
                    _mm256_cvtepu8_epi16(_mm_set_epi32(u[3] as i32, u[2] as i32, u[1] as i32, u[0] as i32));
                let q8sums = _mm256_loadu_si256(y.bsums.as_ptr() as *const __m256i);
                let q8s = _mm_hadd_epi16(_mm256_extracti128_si256(q8sums, 0), _mm256_extracti128_si256(q8sums, 1));
                let prod = _mm_madd_epi16(_mm256_extracti128_si256(mins_and_scales, 1), q8s);
                acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);
                let sc128 = _mm256_extracti128_si256(mins_and_scales, 0);
                let scales = _mm256_set_m128i(sc128, sc128);
                let mut sumi = _mm256_setzero_si256();
                let (q4, q8) = (b[16..].as_ptr(), y.qs.as_ptr());
                for j in 0..4 {
                    // Scale 2j and 2j+1 (i16 lanes) in every lane: get_scale_shuffle_k4.
                    let pick = |i: i8| _mm256_set1_epi16(i16::from_le_bytes([2 * i as u8, 2 * i as u8 + 1]));
                    let scale_l = _mm256_shuffle_epi8(scales, pick(2 * j as i8));
                    let scale_h = _mm256_shuffle_epi8(scales, pick(2 * j as i8 + 1));
                    let q4bits = _mm256_loadu_si256(q4.add(32 * j) as *const __m256i);
                    let q4l = _mm256_and_si256(q4bits, m4);
                    let q4h = _mm256_and_si256(_mm256_srli_epi16(q4bits, 4), m4);
                    let q8l = _mm256_loadu_si256(q8.add(64 * j) as *const __m256i);
                    let p16l = _mm256_madd_epi16(scale_l, _mm256_maddubs_epi16(q4l, q8l));
                    let q8h = _mm256_loadu_si256(q8.add(64 * j + 32) as *const __m256i);
                    let p16h = _mm256_madd_epi16(scale_h, _mm256_maddubs_epi16(q4h, q8h));
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16l, p16h));
                }
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
            }
        }
        unsafe {
            acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
            acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
            hsum8(acc) + _mm_cvtss_f32(acc_m)
        }
    }

    /// # Safety
    /// AVX2 and FMA; `y` has a block for each of `w`'s.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_q6_k(w: &[u8], y: &[Q8K]) -> f32 {
        let m4 = _mm256_set1_epi8(0xF);
        let m2 = _mm256_set1_epi8(3);
        let m32s = _mm256_set1_epi8(32);
        let mut acc = _mm256_setzero_ps();
        for (b, y) in w.chunks_exact(Q6_K_BYTES).zip(y) {
            let d = y.d * half(b, 208);
            unsafe {
                let scales = _mm_loadu_si128(b[192..].as_ptr() as *const __m128i);
                let mut sumi = _mm256_setzero_si256();
                let (ql, qh, q8) = (b.as_ptr(), b[128..].as_ptr(), y.qs.as_ptr());
                for j in 0..2 {
                    // Scale 2i for the first 16 bytes, 2i+1 for the next: get_scale_shuffle.
                    let pick = |i: usize| {
                        let (lo, hi) = ((2 * i) as i8, (2 * i + 1) as i8);
                        _mm_set_epi8(hi, hi, hi, hi, hi, hi, hi, hi, lo, lo, lo, lo, lo, lo, lo, lo)
                    };
                    let bits1 = _mm256_loadu_si256(ql.add(64 * j) as *const __m256i);
                    let bits2 = _mm256_loadu_si256(ql.add(64 * j + 32) as *const __m256i);
                    let bits_h = _mm256_loadu_si256(qh.add(32 * j) as *const __m256i);
                    let high = |shift: i32| {
                        let v = match shift {
                            0 => bits_h,
                            2 => _mm256_srli_epi16(bits_h, 2),
                            4 => _mm256_srli_epi16(bits_h, 4),
                            _ => _mm256_srli_epi16(bits_h, 6),
                        };
                        _mm256_slli_epi16(_mm256_and_si256(v, m2), 4)
                    };
                    let q = [
                        _mm256_or_si256(_mm256_and_si256(bits1, m4), high(0)),
                        _mm256_or_si256(_mm256_and_si256(bits2, m4), high(2)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits1, 4), m4), high(4)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits2, 4), m4), high(6)),
                    ];
                    for (c, q) in q.into_iter().enumerate() {
                        let q8c = _mm256_loadu_si256(q8.add(128 * j + 32 * c) as *const __m256i);
                        let p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, q8c), _mm256_maddubs_epi16(m32s, q8c));
                        let scale = _mm_shuffle_epi8(scales, pick(4 * j + c));
                        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_cvtepi8_epi16(scale), p16));
                    }
                }
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
            }
        }
        unsafe { hsum8(acc) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::neural::gguf::{GgmlType, dequantize_blocks};

    /// Random super-blocks with sane f16 scales.
    fn blocks(ty: GgmlType, n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        };
        let bytes = if ty == GgmlType::Q4K { Q4_K_BYTES } else { Q6_K_BYTES };
        let mut out: Vec<u8> = (0..n * bytes).map(|_| next()).collect();
        for b in out.chunks_exact_mut(bytes) {
            let scale = half::f16::from_f32(0.01 + f32::from(next()) / 4096.0).to_le_bytes();
            let at: &[usize] = if ty == GgmlType::Q4K { &[0, 2] } else { &[208] };
            for &i in at {
                b[i..i + 2].copy_from_slice(&scale);
            }
        }
        out
    }

    #[test]
    fn k_quant_dots_equal_the_dequantized_dot_and_the_avx2_bits() {
        let x: Vec<f32> = (0..2 * QK_K).map(|i| ((i * 37 % 101) as f32 - 50.0) / 13.0).collect();
        let mut y = vec![Q8K::default(); 2];
        quantize_q8_k(&x, &mut y);
        let yq: Vec<f32> = y.iter().flat_map(|b| b.qs.iter().map(move |&q| f32::from(q) * b.d)).collect();
        for (ty, dot) in [(GgmlType::Q4K, dot_q4_k as fn(&[u8], &[Q8K]) -> f32), (GgmlType::Q6K, dot_q6_k)] {
            for seed in 1..20 {
                let w = blocks(ty, 2, seed);
                let mut wf = vec![0f32; 2 * QK_K];
                dequantize_blocks(ty, &w, &mut wf);
                let exact: f64 = wf.iter().zip(&yq).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                let got = dot(&w, &y);
                assert!((f64::from(got) - exact).abs() < 1e-4 * exact.abs().max(1.0), "{ty:?} {got} vs {exact}");
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: checked just above.
                    let fast =
                        unsafe { if ty == GgmlType::Q4K { avx2::dot_q4_k(&w, &y) } else { avx2::dot_q6_k(&w, &y) } };
                    assert_eq!(fast.to_bits(), got.to_bits(), "{ty:?} seed {seed}");
                }
            }
        }
    }

    #[test]
    fn q8_k_takes_the_value_of_largest_magnitude_as_minus_127() {
        let mut x = vec![0.5f32; QK_K];
        x[3] = -2.0;
        x[7] = 1.0;
        let mut y = [Q8K::default()];
        quantize_q8_k(&x, &mut y);
        assert_eq!(y[0].qs[3], -127);
        assert_eq!(y[0].qs[7], 64, "-127/-2 = 63.5 rounds to even");
        assert_eq!(y[0].d, 1.0 / 63.5);
        assert_eq!(y[0].bsums[0], y[0].qs[..16].iter().map(|&q| i16::from(q)).sum::<i16>());
    }
}
