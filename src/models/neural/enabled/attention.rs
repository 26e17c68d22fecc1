//! Attention for the causal networks: causal (every query sees the keys up to its own position,
//! no padding) through libtorch's causal fast path, or under an explicit boolean mask (padding,
//! cached keys). The causal path calls `at::scaled_dot_product_attention(…, is_causal=true)`
//! through a small C++ shim (`cpp/causal_attention.cpp`, built by build.rs), because tch 0.17
//! cannot pass "no mask" to libtorch 2.4; transformers takes the same path for unpadded input.
//! Packed rows (several short sequences side by side in one row, so that the matrix products see
//! no padding) attend segment by segment through the same causal path: a segment never sees its
//! neighbours, and libtorch skips the masked half of each segment as it does for one sequence.
//! Networks that attend under explicit masks anyway (GPT-Neo) take `segment_mask` instead.

use tch::Tensor;

use crate::models::neural::NeuralError;

/// Which keys each query may see.
pub enum Attend<'a> {
    /// Query i sees keys 0..=i (queries and keys the same positions, nothing padded).
    Causal,
    /// Boolean mask broadcastable to `[batch, heads, queries, keys]`, true = may attend.
    Mask(&'a Tensor),
    /// Per row of the batch, its segments `(start, len)`, in order: each is an independent
    /// sequence attending causally within itself; slots after the last segment are padding
    /// (their output is zero).
    Segments(&'a [Vec<(i64, i64)>]),
}

unsafe extern "C" {
    fn lmgauge_causal_attention(
        q: *const torch_sys::C_tensor,
        k: *const torch_sys::C_tensor,
        v: *const torch_sys::C_tensor,
        error: *mut u8,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
}

/// Scaled-dot-product attention of `q`, `k`, `v` `[batch, heads, seq, d]` (scale 1/√d).
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, attend: &Attend) -> Result<Tensor, NeuralError> {
    match attend {
        Attend::Mask(mask) => Tensor::f_scaled_dot_product_attention(q, k, v, Some(*mask), 0.0, false, None)
            .map_err(|e| NeuralError::Torch(e.to_string())),
        Attend::Causal => causal(q, k, v),
        Attend::Segments(rows) => {
            let (slots, width) = (q.size()[2], v.size()[3]);
            let mut out = Vec::with_capacity(rows.len());
            for (r, segments) in rows.iter().enumerate() {
                let (q, k, v) = (q.narrow(0, r as i64, 1), k.narrow(0, r as i64, 1), v.narrow(0, r as i64, 1));
                let mut parts = Vec::with_capacity(segments.len() + 1);
                let mut end = 0;
                for &(start, len) in segments {
                    parts.push(causal(&q.narrow(2, start, len), &k.narrow(2, start, len), &v.narrow(2, start, len))?);
                    end = start + len;
                }
                if end < slots {
                    parts.push(Tensor::zeros([1, q.size()[1], slots - end, width], (q.kind(), q.device())));
                }
                out.push(Tensor::cat(&parts, 2));
            }
            Ok(Tensor::cat(&out, 0))
        }
    }
}

/// `at::scaled_dot_product_attention(q, k, v, is_causal=true)` with no mask tensor.
fn causal(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor, NeuralError> {
    let mut error = [0u8; 512];
    // SAFETY: the pointers are live tensors borrowed for the call; the shim returns a new heap
    // tensor that `from_ptr` takes ownership of, or null with a message in `error`.
    let out = unsafe { lmgauge_causal_attention(q.as_ptr(), k.as_ptr(), v.as_ptr(), error.as_mut_ptr(), error.len()) };
    if out.is_null() {
        let end = error.iter().position(|&b| b == 0).unwrap_or(error.len());
        return Err(NeuralError::Torch(format!("causal attention: {}", String::from_utf8_lossy(&error[..end]))));
    }
    Ok(unsafe { Tensor::from_ptr(out) })
}

/// The block-diagonal visibility of packed rows: `[batch, 1, slots, slots]`, true where query and
/// key lie in the same segment (padding slots form one segment of their own). Causality is the
/// caller's to add; networks that attend under explicit masks use this for `Attend::Segments`.
pub fn segment_mask(rows: &[Vec<(i64, i64)>], slots: i64, device: tch::Device) -> Tensor {
    let mut ids = vec![-1i64; rows.len() * slots as usize];
    for (r, segments) in rows.iter().enumerate() {
        for (s, &(start, len)) in segments.iter().enumerate() {
            let at = r * slots as usize + start as usize;
            ids[at..at + len as usize].fill(s as i64);
        }
    }
    let ids = Tensor::from_slice(&ids).view([rows.len() as i64, slots]).to_device(device);
    ids.unsqueeze(2).eq_tensor(&ids.unsqueeze(1)).unsqueeze(1)
}
