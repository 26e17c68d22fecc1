//! The AVX2 kernels behind [`super::blocks`]: the same lane order, so the same bits, eight
//! products of four at a time. Each kernel takes one weight row and up to [`ROWS`] activation
//! rows, so a batch of tokens unpacks each weight block once for several of them (what makes
//! perplexity, a matrix–matrix product, faster than one dot product per pair).
//!
//! Chosen at run time ([`available`]); everything here is `unsafe` only because it needs the
//! CPU features it is compiled for, which the caller checks once.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::blocks::{Q4_0_BYTES, Q4_1_BYTES, Q5_0_BYTES, Q5_1_BYTES, Q8_0, Q8_0_BYTES, Q8_1};
use crate::models::neural::gguf::GgmlType;

/// Activation rows one call serves.
pub const ROWS: usize = 8;

/// Which kernels this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The portable functions of `blocks`.
    Portable,
    /// x86-64 with AVX2, FMA and F16C.
    Avx2,
    /// And AVX-VNNI: the byte products in one instruction.
    Vnni,
}

pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c") {
            return if is_x86_feature_detected!("avxvnni") { Level::Vnni } else { Level::Avx2 };
        }
    }
    Level::Portable
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[allow(unused_imports)]
    use super::*;

    #[inline(always)]
    pub unsafe fn half(b: &[u8], at: usize) -> f32 {
        let bits = u16::from_le_bytes([b[at], b[at + 1]]);
        unsafe { _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits)))) }
    }

    #[inline(always)]
    pub unsafe fn hsum8(x: __m256) -> f32 {
        unsafe {
            let mut r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
            r = _mm_add_ps(r, _mm_movehl_ps(r, r));
            r = _mm_add_ss(r, _mm_movehdup_ps(r));
            _mm_cvtss_f32(r)
        }
    }

    /// ggml's `bytes_from_nibbles_32`: low nibbles then high nibbles, 32 bytes 0..15.
    #[inline(always)]
    pub unsafe fn nibbles(qs: &[u8]) -> __m256i {
        unsafe {
            let tmp = _mm_loadu_si128(qs.as_ptr().cast());
            let bytes = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
            _mm256_and_si256(_mm256_set1_epi8(0xF), bytes)
        }
    }

    /// Unsigned × signed bytes, summed in lanes of four, as floats.
    #[inline(always)]
    pub unsafe fn sum_us8(ax: __m256i, sy: __m256i) -> __m256 {
        unsafe { _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))) }
    }

    /// The same sums in one VNNI instruction.
    #[inline(always)]
    pub unsafe fn sum_us8_vnni(ax: __m256i, sy: __m256i) -> __m256 {
        unsafe { _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), ax, sy)) }
    }

    /// ggml's `bytes_from_bits_32`: byte j is 0xFF where bit j of the four bytes is set.
    #[inline(always)]
    pub unsafe fn bits32(qh: &[u8]) -> __m256i {
        let x32 = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
        unsafe {
            let shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
            let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x32 as i32), shuf);
            let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
            _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
        }
    }

    #[inline(always)]
    pub unsafe fn load32(qs: &[i8; 32]) -> __m256i {
        unsafe { _mm256_loadu_si256(qs.as_ptr().cast()) }
    }
}

/// The quantized kernels for one instruction set: `$sum` turns unsigned × signed bytes into eight
/// lanes of four (AVX2's `maddubs` + `madd`, or one VNNI `dpbusd`: the same exact integers, so
/// the same bits).
macro_rules! kernels {
    ($name:ident, $features:literal, $sum:ident) => {
        pub mod $name {
            use super::*;

            /// One row of blocks with unsigned quants and an offset (`d` and `m` as f16 in the
            /// first four bytes; `unpack` gives a block's 32 quants) against up to `N`
            /// activation rows: Q4_1 and Q5_1.
            #[inline(always)]
            unsafe fn dot_unsigned<const N: usize>(
                w: &[u8],
                bytes: usize,
                ys: [&[Q8_1]; N],
                unpack: impl Fn(&[u8]) -> __m256i,
            ) -> [f32; N] {
                // SAFETY: inlined only into this module's kernels, compiled for its features.
                unsafe {
                    use x86::*;
                    let mut acc = [_mm256_setzero_ps(); N];
                    let mut offsets = [0f32; N];
                    for (i, b) in w.chunks_exact(bytes).enumerate() {
                        let (d, m) = (half(b, 0), half(b, 2));
                        // d·y.d as one vector multiply of the broadcast values: the same rounding
                        // as the scalar product, without a shuffle per activation row.
                        let dv = _mm256_set1_ps(d);
                        let qx = unpack(b);
                        for n in 0..N {
                            let y = &ys[n][i];
                            offsets[n] = m.mul_add(y.s, offsets[n]);
                            let xy = $sum(qx, load32(&y.qs));
                            acc[n] = _mm256_fmadd_ps(_mm256_mul_ps(dv, _mm256_broadcast_ss(&y.d)), xy, acc[n]);
                        }
                    }
                    std::array::from_fn(|n| hsum8(acc[n]) + offsets[n])
                }
            }

            /// One row of blocks with signed quants (`d` as f16 in the first two bytes) against
            /// up to `N` activation rows: Q4_0, Q5_0 and Q8_0.
            #[inline(always)]
            unsafe fn dot_signed<const N: usize>(
                w: &[u8],
                bytes: usize,
                ys: [&[Q8_0]; N],
                unpack: impl Fn(&[u8]) -> __m256i,
            ) -> [f32; N] {
                // SAFETY: inlined only into this module's kernels, compiled for its features.
                unsafe {
                    use x86::*;
                    let mut acc = [_mm256_setzero_ps(); N];
                    for (i, b) in w.chunks_exact(bytes).enumerate() {
                        let dv = _mm256_set1_ps(half(b, 0));
                        let qx = unpack(b);
                        let ax = _mm256_sign_epi8(qx, qx);
                        for n in 0..N {
                            let y = &ys[n][i];
                            let xy = $sum(ax, _mm256_sign_epi8(load32(&y.qs), qx));
                            acc[n] = _mm256_fmadd_ps(_mm256_mul_ps(dv, _mm256_broadcast_ss(&y.d)), xy, acc[n]);
                        }
                    }
                    std::array::from_fn(|n| hsum8(acc[n]))
                }
            }

            /// `out[n] = dot(w, ys[n])` for a Q4_1 row.
            ///
            /// # Safety
            /// The CPU has this module's features ([`super::level`]); every `ys[n]` holds a
            /// block per block of `w`.
            #[target_feature(enable = $features)]
            #[inline]
            pub unsafe fn dot_q4_1<const N: usize>(w: &[u8], ys: [&[Q8_1]; N]) -> [f32; N] {
                unsafe { dot_unsigned(w, Q4_1_BYTES, ys, |b| x86::nibbles(&b[4..])) }
            }

            /// As [`dot_q4_1`] for a Q5_1 row: the fifth bits from `qh`.
            ///
            /// # Safety
            /// As [`dot_q4_1`].
            #[target_feature(enable = $features)]
            #[inline]
            pub unsafe fn dot_q5_1<const N: usize>(w: &[u8], ys: [&[Q8_1]; N]) -> [f32; N] {
                unsafe {
                    dot_unsigned(w, Q5_1_BYTES, ys, |b| {
                        let high = _mm256_and_si256(x86::bits32(&b[4..8]), _mm256_set1_epi8(0x10));
                        _mm256_or_si256(x86::nibbles(&b[8..]), high)
                    })
                }
            }

            /// As [`dot_q4_1`] for a Q4_0 row.
            ///
            /// # Safety
            /// As [`dot_q4_1`].
            #[target_feature(enable = $features)]
            #[inline]
            pub unsafe fn dot_q4_0<const N: usize>(w: &[u8], ys: [&[Q8_0]; N]) -> [f32; N] {
                unsafe {
                    dot_signed(w, Q4_0_BYTES, ys, |b| _mm256_sub_epi8(x86::nibbles(&b[2..]), _mm256_set1_epi8(8)))
                }
            }

            /// As [`dot_q4_1`] for a Q5_0 row: a clear fifth bit makes the quant 16 less.
            ///
            /// # Safety
            /// As [`dot_q4_1`].
            #[target_feature(enable = $features)]
            #[inline]
            pub unsafe fn dot_q5_0<const N: usize>(w: &[u8], ys: [&[Q8_0]; N]) -> [f32; N] {
                unsafe {
                    dot_signed(w, Q5_0_BYTES, ys, |b| {
                        let high = _mm256_andnot_si256(x86::bits32(&b[2..6]), _mm256_set1_epi8(0xF0u8 as i8));
                        _mm256_or_si256(x86::nibbles(&b[6..]), high)
                    })
                }
            }

            /// As [`dot_q4_1`] for a Q8_0 row.
            ///
            /// # Safety
            /// As [`dot_q4_1`].
            #[target_feature(enable = $features)]
            #[inline]
            pub unsafe fn dot_q8_0<const N: usize>(w: &[u8], ys: [&[Q8_0]; N]) -> [f32; N] {
                unsafe { dot_signed(w, Q8_0_BYTES, ys, |b| _mm256_loadu_si256(b[2..].as_ptr().cast())) }
            }

            /// `out[r] = dot(row r of w, y)` over consecutive rows of `row_bytes` (one token's
            /// product, all of a thread's rows in one call).
            ///
            /// # Safety
            /// As [`dot_q4_1`]; `w` holds `out.len()` rows.
            #[target_feature(enable = $features)]
            pub unsafe fn gemv_q8_1(q5: bool, w: &[u8], row_bytes: usize, y: &[Q8_1], out: &mut [f32]) {
                for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                    *o = unsafe { if q5 { dot_q5_1::<1>(row, [y]) } else { dot_q4_1::<1>(row, [y]) } }[0];
                }
            }

            /// As [`gemv_q8_1`] for Q4_0, Q5_0 or Q8_0 rows.
            ///
            /// # Safety
            /// As [`gemv_q8_1`].
            #[target_feature(enable = $features)]
            pub unsafe fn gemv_q8_0(ty: GgmlType, w: &[u8], row_bytes: usize, y: &[Q8_0], out: &mut [f32]) {
                for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                    *o = unsafe {
                        match ty {
                            GgmlType::Q4_0 => dot_q4_0::<1>(row, [y]),
                            GgmlType::Q5_0 => dot_q5_0::<1>(row, [y]),
                            _ => dot_q8_0::<1>(row, [y]),
                        }
                    }[0];
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
kernels!(avx2, "avx2,fma,f16c", sum_us8);
#[cfg(target_arch = "x86_64")]
kernels!(vnni, "avx2,fma,f16c,avxvnni", sum_us8_vnni);

/// `a · b` over f32 rows in eight lanes with FMA (attention scores).
///
/// # Safety
/// AVX2 and FMA ([`level`]); the rows have the same length, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        acc = unsafe { _mm256_fmadd_ps(_mm256_loadu_ps(a.as_ptr()), _mm256_loadu_ps(b.as_ptr()), acc) };
    }
    unsafe { x86::hsum8(acc) }
}

/// `y += a * x` over f32 rows (attention values).
///
/// # Safety
/// AVX2 and FMA ([`level`]); the rows have the same length, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn axpy_f32(y: &mut [f32], a: f32, x: &[f32]) {
    let va = _mm256_set1_ps(a);
    for (y, x) in y.chunks_exact_mut(8).zip(x.chunks_exact(8)) {
        unsafe {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(x.as_ptr()), _mm256_loadu_ps(y.as_ptr()));
            _mm256_storeu_ps(y.as_mut_ptr(), r);
        }
    }
}

/// One query's attention ([`super::blocks::attend_with`]) with the dot products and the
/// accumulation inlined.
///
/// # Safety
/// AVX2 and FMA ([`level`]); `out.len() == query.len()`, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn attend(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    at: (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    super::blocks::attend_with(
        |a, b| unsafe { dot_f32(a, b) },
        |y, a, x| unsafe { axpy_f32(y, a, x) },
        query,
        keys,
        values,
        at,
        scale,
        scores,
        out,
    )
}
