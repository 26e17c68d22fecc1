//! Quantized weight matrices read in place from the GGUF map, and their products with a batch of
//! activation rows: the rows are quantized once per product to the type the weights pair with
//! (ggml's `vec_dot_type`: Q8_1 for Q4_1 and Q5_1, Q8_0 for Q4_0, Q5_0 and Q8_0, Q8_K for the
//! K-quants), then every (weight row, activation row) pair is one dot product of
//! [`super::blocks`] or [`super::kquants`].
//!
//! The weight rows are split across rayon's threads; inside a thread a block of weight rows meets
//! the activation rows eight at a time, so each weight block is unpacked once per eight tokens and
//! stays in cache while they pass.

use rayon::prelude::*;

use super::blocks::{self, Q8_0, Q8_1, QK};
use super::kquants::{self, Q8K, QK_K};
use super::simd::{self, Level};
use crate::models::neural::NeuralError;
use crate::models::neural::gguf::{GgmlType, Gguf, TensorInfo};

/// The weight types this engine multiplies without dequantizing.
pub const COMPUTE_TYPES: &[GgmlType] = &[
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4K,
    GgmlType::Q6K,
];

/// A 2-D quantized tensor: `rows` rows of `cols` values, `row_bytes` each, at `start` in the map.
#[derive(Debug, Clone)]
pub struct Weight {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    start: usize,
    row_bytes: usize,
}

/// Activation rows quantized for one weight type.
pub enum Activations {
    Q8_0(Vec<Q8_0>),
    Q8_1(Vec<Q8_1>),
    Q8K(Vec<Q8K>),
    /// Unquantized rows for F32 weights, rounded through f16 for F16 weights (ggml converts the
    /// activations to the weights' type).
    F32(Vec<f32>),
}

impl Weight {
    /// The tensor `name` as a `rows × cols` matrix (GGUF lists `cols` first).
    pub fn open(file: &Gguf, name: &str, rows: usize, cols: usize) -> Result<Self, NeuralError> {
        let info: &TensorInfo =
            file.tensor(name).ok_or_else(|| NeuralError::file(&file.path, format!("tensor {name} is missing")))?;
        if info.dims != [cols as u64, rows as u64] {
            return Err(NeuralError::file(
                &file.path,
                format!("tensor {name} has shape {:?}; the configuration implies [{cols}, {rows}]", info.dims),
            ));
        }
        if !COMPUTE_TYPES.contains(&info.ggml_type) {
            let names: Vec<&str> = COMPUTE_TYPES.iter().map(|t| t.name()).collect();
            return Err(NeuralError::file(
                &file.path,
                format!(
                    "tensor {name} is {}; quantized compute supports {} (run the file with `compute: f32` to dequantize it)",
                    info.ggml_type.name(),
                    names.join(", ")
                ),
            ));
        }
        let float = matches!(info.ggml_type, GgmlType::F32 | GgmlType::F16);
        if !float && !cols.is_multiple_of(info.ggml_type.block_elements()) {
            return Err(NeuralError::file(&file.path, format!("tensor {name} has rows of {cols}, not whole blocks")));
        }
        let row_bytes = cols / info.ggml_type.block_elements() * info.ggml_type.block_bytes();
        debug_assert_eq!(row_bytes * rows, info.len);
        Ok(Weight { ty: info.ggml_type, rows, cols, start: info.start, row_bytes })
    }

    fn row<'a>(&self, data: &'a [u8], r: usize) -> &'a [u8] {
        let at = self.start + r * self.row_bytes;
        &data[at..at + self.row_bytes]
    }

    /// Row `r` as f32 (an embedding lookup).
    pub fn dequantize_row(&self, data: &[u8], r: usize, out: &mut [f32]) {
        crate::models::neural::gguf::dequantize_blocks(self.ty, self.row(data, r), out);
    }

    /// Quantizes `t` rows of `x` (`t × cols`) for this weight's dot product.
    /// Whether `other` multiplies the same quantized activations as this weight (the rows
    /// [`Weight::quantize`] makes depend on the weight's type only through this grouping), so one
    /// quantization of the input serves both.
    pub fn shares_activations(&self, other: &Weight) -> bool {
        let group = |ty: GgmlType| match ty {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4K | GgmlType::Q6K => 2,
            GgmlType::Q4_1 | GgmlType::Q5_1 => 3,
            _ => 4,
        };
        group(self.ty) == group(other.ty) && self.cols == other.cols
    }

    pub fn quantize(&self, x: &[f32]) -> Activations {
        let blocks = x.len() / QK;
        match self.ty {
            GgmlType::F32 => Activations::F32(x.to_vec()),
            GgmlType::F16 => Activations::F32(x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect()),
            GgmlType::Q4K | GgmlType::Q6K => {
                let mut q = vec![Q8K::default(); x.len() / QK_K];
                kquants::quantize_q8_k(x, &mut q);
                Activations::Q8K(q)
            }
            GgmlType::Q4_1 | GgmlType::Q5_1 => {
                let mut q = vec![Q8_1::default(); blocks];
                blocks::quantize_q8_1(x, &mut q);
                Activations::Q8_1(q)
            }
            _ => {
                let mut q = vec![Q8_0::default(); blocks];
                blocks::quantize_q8_0(x, &mut q);
                Activations::Q8_0(q)
            }
        }
    }

    /// `out[t × rows]`: `x[t] · row` for every activation row `t` and weight row.
    pub fn matmul(&self, data: &[u8], x: &Activations, t: usize, out: &mut [f32]) {
        let rows = self.rows;
        assert_eq!(out.len(), t * rows);
        let per_row = self.cols / QK;
        // Enough chunks to balance the threads, few enough that each keeps a block of rows.
        let threads = rayon::current_num_threads();
        let chunk = if matches!(x, Activations::F32(_)) {
            // sgemm packs the activations on every call: few calls, a share of rows each.
            rows.div_ceil(threads * 2).clamp(16, 2048)
        } else {
            (rows / (threads * 8)).clamp(16, 256)
        };
        let out = SharedOut(out.as_mut_ptr());
        (0..rows.div_ceil(chunk)).into_par_iter().for_each(|c| {
            let (r0, r1) = (c * chunk, ((c + 1) * chunk).min(rows));
            if let Activations::F32(x) = x {
                // The chunk's rows in f32 once, then one cache-blocked product with every token
                // (matrixmultiply's sgemm): a dot product per row and token streamed both
                // operands from memory and ran at a third of the 8-bit kernels' pace.
                let (n, cols) = (r1 - r0, self.cols);
                let mut w = vec![0f32; n * cols];
                for (r, w) in (r0..r1).zip(w.chunks_exact_mut(cols)) {
                    self.dequantize_row(data, r, w);
                }
                // SAFETY: x is t × cols and w is n × cols (read as its transpose, cols × n);
                // the t × n result goes to columns r0..r1 of the t × rows output, which no other
                // task writes.
                unsafe {
                    matrixmultiply::sgemm(
                        t,
                        cols,
                        n,
                        1.0,
                        x.as_ptr(),
                        cols as isize,
                        1,
                        w.as_ptr(),
                        1,
                        cols as isize,
                        0.0,
                        out.at(r0),
                        rows as isize,
                        1,
                    )
                };
                return;
            }
            if matches!(self.ty, GgmlType::Q4K | GgmlType::Q6K) {
                // Types without multi-token kernels: one dot product per (row, token), the row
                // kept in cache while the tokens pass.
                for r in r0..r1 {
                    let w = self.row(data, r);
                    for k in 0..t {
                        // SAFETY: as below.
                        unsafe { out.write(k * rows + r, self.dot(w, x, k)) };
                    }
                }
                return;
            }
            let mut t0 = 0;
            // Eight tokens at a time against one weight row (measured 1.25x faster than four),
            // then what is left one by one
            // (interleaving four weight rows for one token measured slower: the weights stream
            // from memory, and one stream at a time prefetches best).
            while t - t0 >= simd::ROWS {
                for r in r0..r1 {
                    let w = self.row(data, r);
                    let mut v = [0f32; simd::ROWS];
                    match x {
                        Activations::Q8_1(y) => dots_q8_1(
                            self.ty,
                            w,
                            std::array::from_fn(|k| row_of(y, t0 + k, per_row)),
                            simd::ROWS,
                            &mut v,
                        ),
                        Activations::Q8_0(y) => dots_q8_0(
                            self.ty,
                            w,
                            std::array::from_fn(|k| row_of(y, t0 + k, per_row)),
                            simd::ROWS,
                            &mut v,
                        ),
                        Activations::F32(_) | Activations::Q8K(_) => unreachable!("handled above"),
                    }
                    for (k, v) in v.iter().enumerate() {
                        // SAFETY: each task writes only the columns r0..r1 of each output row;
                        // the tasks' column ranges are disjoint and within `out`.
                        unsafe { out.write((t0 + k) * rows + r, *v) };
                    }
                }
                t0 += simd::ROWS;
            }
            let rows_bytes = &data[self.start + r0 * self.row_bytes..self.start + r1 * self.row_bytes];
            let mut v = vec![0f32; r1 - r0];
            for k in t0..t {
                match x {
                    Activations::Q8_1(y) => {
                        gemv_q8_1(self.ty, rows_bytes, self.row_bytes, row_of(y, k, per_row), &mut v)
                    }
                    Activations::Q8_0(y) => {
                        gemv_q8_0(self.ty, rows_bytes, self.row_bytes, row_of(y, k, per_row), &mut v)
                    }
                    Activations::F32(_) | Activations::Q8K(_) => unreachable!("handled above"),
                }
                for (j, v) in v.iter().enumerate() {
                    // SAFETY: as above.
                    unsafe { out.write(k * rows + r0 + j, *v) };
                }
            }
        });
    }
}

impl Weight {
    /// K-quant weight row `w` against activation row `k` ([`Weight::matmul`] takes these one
    /// pair at a time).
    fn dot(&self, w: &[u8], x: &Activations, k: usize) -> f32 {
        let per_row = self.cols / self.ty.block_elements();
        match (self.ty, x) {
            (ty, Activations::Q8K(y)) => {
                let y = row_of(y, k, per_row);
                let q4 = ty == GgmlType::Q4K;
                #[cfg(target_arch = "x86_64")]
                if *LEVEL != Level::Portable {
                    // SAFETY: LEVEL is AVX2 or above only when the CPU has AVX2 and FMA.
                    return unsafe { if q4 { kquants::avx2::dot_q4_k(w, y) } else { kquants::avx2::dot_q6_k(w, y) } };
                }
                if q4 { kquants::dot_q4_k(w, y) } else { kquants::dot_q6_k(w, y) }
            }
            (ty, _) => unreachable!("{} weights are quantized for their own activation type", ty.name()),
        }
    }
}

fn row_of<T>(y: &[T], t: usize, per_row: usize) -> &[T] {
    &y[t * per_row..(t + 1) * per_row]
}

/// Calls one SIMD kernel for `n` activation rows: all of them at once, or one at a time.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_dots {
    ($module:ident, $f:ident, $w:expr, $ys:expr, $n:expr, $out:expr) => {
        // SAFETY: LEVEL chose this module because the CPU has its features.
        unsafe {
            if $n == simd::ROWS {
                *$out = simd::$module::$f($w, $ys);
            } else {
                for k in 0..$n {
                    $out[k] = simd::$module::$f($w, [$ys[k]])[0];
                }
            }
        }
    };
}

/// Up to [`simd::ROWS`] activation rows against one Q4_1 or Q5_1 weight row.
fn dots_q8_1(ty: GgmlType, w: &[u8], ys: [&[Q8_1]; simd::ROWS], n: usize, out: &mut [f32; simd::ROWS]) {
    let q5 = ty == GgmlType::Q5_1;
    match (*LEVEL, q5) {
        #[cfg(target_arch = "x86_64")]
        (Level::Vnni, false) => simd_dots!(vnni, dot_q4_1, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Vnni, true) => simd_dots!(vnni, dot_q5_1, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, false) => simd_dots!(avx2, dot_q4_1, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, true) => simd_dots!(avx2, dot_q5_1, w, ys, n, out),
        _ => {
            for k in 0..n {
                out[k] = if q5 { blocks::dot_q5_1(w, ys[k]) } else { blocks::dot_q4_1(w, ys[k]) };
            }
        }
    }
}

/// Up to [`simd::ROWS`] activation rows against one Q4_0, Q5_0 or Q8_0 weight row.
fn dots_q8_0(ty: GgmlType, w: &[u8], ys: [&[Q8_0]; simd::ROWS], n: usize, out: &mut [f32; simd::ROWS]) {
    match (*LEVEL, ty) {
        #[cfg(target_arch = "x86_64")]
        (Level::Vnni, GgmlType::Q4_0) => simd_dots!(vnni, dot_q4_0, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Vnni, GgmlType::Q5_0) => simd_dots!(vnni, dot_q5_0, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Vnni, _) => simd_dots!(vnni, dot_q8_0, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, GgmlType::Q4_0) => simd_dots!(avx2, dot_q4_0, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, GgmlType::Q5_0) => simd_dots!(avx2, dot_q5_0, w, ys, n, out),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, _) => simd_dots!(avx2, dot_q8_0, w, ys, n, out),
        _ => {
            for k in 0..n {
                out[k] = blocks_dot_q8_0(ty, w, ys[k]);
            }
        }
    }
}

fn blocks_dot_q8_0(ty: GgmlType, w: &[u8], y: &[Q8_0]) -> f32 {
    match ty {
        GgmlType::Q4_0 => blocks::dot_q4_0(w, y),
        GgmlType::Q5_0 => blocks::dot_q5_0(w, y),
        _ => blocks::dot_q8_0(w, y),
    }
}

/// One token against consecutive Q4_1 or Q5_1 rows.
fn gemv_q8_1(ty: GgmlType, w: &[u8], row_bytes: usize, y: &[Q8_1], out: &mut [f32]) {
    let q5 = ty == GgmlType::Q5_1;
    match *LEVEL {
        // SAFETY: LEVEL chose these kernels because the CPU has their features.
        #[cfg(target_arch = "x86_64")]
        Level::Vnni => unsafe { simd::vnni::gemv_q8_1(q5, w, row_bytes, y, out) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { simd::avx2::gemv_q8_1(q5, w, row_bytes, y, out) },
        _ => {
            for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                *o = if q5 { blocks::dot_q5_1(row, y) } else { blocks::dot_q4_1(row, y) };
            }
        }
    }
}

/// One token against consecutive Q4_0, Q5_0 or Q8_0 rows.
fn gemv_q8_0(ty: GgmlType, w: &[u8], row_bytes: usize, y: &[Q8_0], out: &mut [f32]) {
    match *LEVEL {
        // SAFETY: as in gemv_q8_1.
        #[cfg(target_arch = "x86_64")]
        Level::Vnni => unsafe { simd::vnni::gemv_q8_0(ty, w, row_bytes, y, out) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { simd::avx2::gemv_q8_0(ty, w, row_bytes, y, out) },
        _ => {
            for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                *o = blocks_dot_q8_0(ty, row, y);
            }
        }
    }
}

/// The kernels this process runs (`LMGAUGE_NO_SIMD` forces the portable ones, which give the
/// same bits, for checking that).
pub static LEVEL: std::sync::LazyLock<Level> = std::sync::LazyLock::new(|| {
    if std::env::var_os("LMGAUGE_NO_SIMD").is_some() { Level::Portable } else { simd::level() }
});

/// `a · b` in eight FMA lanes summed as ggml does, on any CPU.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if *LEVEL != Level::Portable && a.len().is_multiple_of(8) {
        // SAFETY: features checked in SIMD; lengths equal and whole lanes.
        return unsafe { simd::dot_f32(a, b) };
    }
    let mut acc = [0f32; 8];
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        acc[i % 8] = a.mul_add(*b, acc[i % 8]);
    }
    blocks::hsum8(acc)
}

/// `y += a * x`.
pub fn axpy_f32(y: &mut [f32], a: f32, x: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if *LEVEL != Level::Portable && y.len().is_multiple_of(8) {
        // SAFETY: as in dot_f32.
        return unsafe { simd::axpy_f32(y, a, x) };
    }
    for (y, x) in y.iter_mut().zip(x) {
        *y = a.mul_add(*x, *y);
    }
}

/// One query's causal attention ([`blocks::attend_with`]) over keys and values at `at =
/// (stride, offset)`, on any CPU.
pub fn attend(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    at: (usize, usize),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if *LEVEL != Level::Portable && query.len().is_multiple_of(8) {
        // SAFETY: features checked in LEVEL; `out` has the query's length, whole lanes.
        return unsafe { simd::attend(query, keys, values, at, scale, scores, out) };
    }
    blocks::attend_with(dot_f32, axpy_f32, query, keys, values, at, scale, scores, out)
}

/// The output matrix shared by the tasks of one product, each writing its own columns.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: the tasks write disjoint elements (see `matmul`), and the borrow of the output outlives
// the parallel loop, which joins before `matmul` returns.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// # Safety
    /// `i` is within the output, and no other task writes it.
    unsafe fn write(self, i: usize, v: f32) {
        unsafe { *self.0.add(i) = v };
    }

    /// # Safety
    /// `i` is within the output.
    unsafe fn at(self, i: usize) -> *mut f32 {
        unsafe { self.0.add(i) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_kernels_give_the_portable_kernels_bits() {
        let level = simd::level();
        if level == Level::Portable {
            return;
        }
        let cols = 128;
        let x: Vec<f32> = (0..cols * 4).map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 97.0).collect();
        // Scales kept small and finite: byte pairs up to 0x3bff are f16 values below 1.
        let weights = |block: usize, mul: usize| -> Vec<u8> {
            let mut w: Vec<u8> = (0..cols / 32 * block).map(|i| (i * mul % 251) as u8).collect();
            for b in w.chunks_exact_mut(block) {
                b[1] &= 0x3b;
                b[3] &= if matches!(block, 20 | 24) { 0x3b } else { 0xff };
            }
            w
        };
        let (w41, w40, w80) = (weights(20, 131), weights(18, 61), weights(34, 17));
        let (w51, w50) = (weights(24, 89), weights(22, 157));
        let mut y1 = vec![Q8_1::default(); x.len() / 32];
        blocks::quantize_q8_1(&x, &mut y1);
        let mut y0 = vec![Q8_0::default(); x.len() / 32];
        blocks::quantize_q8_0(&x, &mut y0);
        let per = cols / 32;
        let r1: [&[Q8_1]; 4] = std::array::from_fn(|t| row_of(&y1, t, per));
        let r0: [&[Q8_0]; 4] = std::array::from_fn(|t| row_of(&y0, t, per));
        let bits = |v: [f32; 4]| v.map(f32::to_bits);
        let want41 = bits(r1.map(|y| blocks::dot_q4_1(&w41, y)));
        let want40 = bits(r0.map(|y| blocks::dot_q4_0(&w40, y)));
        let want80 = bits(r0.map(|y| blocks::dot_q8_0(&w80, y)));
        let want51 = bits(r1.map(|y| blocks::dot_q5_1(&w51, y)));
        let want50 = bits(r0.map(|y| blocks::dot_q5_0(&w50, y)));
        // SAFETY: the CPU has AVX2 (level checked above), and AVX-VNNI where that kernel runs.
        unsafe {
            assert_eq!(bits(simd::avx2::dot_q4_1(&w41, r1)), want41);
            assert_eq!(bits(simd::avx2::dot_q4_0(&w40, r0)), want40);
            assert_eq!(bits(simd::avx2::dot_q8_0(&w80, r0)), want80);
            assert_eq!(bits(simd::avx2::dot_q5_1(&w51, r1)), want51);
            assert_eq!(bits(simd::avx2::dot_q5_0(&w50, r0)), want50);
            assert_eq!(simd::avx2::dot_q4_1(&w41, [r1[2]])[0].to_bits(), want41[2]);
            if level == Level::Vnni {
                assert_eq!(bits(simd::vnni::dot_q4_1(&w41, r1)), want41);
                assert_eq!(bits(simd::vnni::dot_q4_0(&w40, r0)), want40);
                assert_eq!(bits(simd::vnni::dot_q8_0(&w80, r0)), want80);
                assert_eq!(bits(simd::vnni::dot_q5_1(&w51, r1)), want51);
                assert_eq!(bits(simd::vnni::dot_q5_0(&w50, r0)), want50);
            }
        }
        let (a, b) = (&x[..cols], &x[cols..2 * cols]);
        // SAFETY: as above.
        let fast = unsafe { simd::dot_f32(a, b) };
        let mut acc = [0f32; 8];
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            acc[i % 8] = a.mul_add(*b, acc[i % 8]);
        }
        assert_eq!(fast.to_bits(), blocks::hsum8(acc).to_bits());
    }
}
