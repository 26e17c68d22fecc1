// Causal scaled-dot-product attention with no mask tensor. tch 0.17 turns a missing mask into an
// undefined tensor, which libtorch 2.4 rejects; without this shim causal attention must pass an
// explicit mask, which keeps libtorch off its causal fast path (it computes every block, masked).
// Compiled by build.rs against the same libtorch headers and ABI as torch-sys's own C wrapper.
#include <ATen/ATen.h>
#include <cstring>
#include <exception>

extern "C" void *lmgauge_causal_attention(const void *q, const void *k, const void *v, char *error, size_t error_len) {
  try {
    auto out = at::scaled_dot_product_attention(*static_cast<const at::Tensor *>(q), *static_cast<const at::Tensor *>(k),
                                                *static_cast<const at::Tensor *>(v), c10::nullopt, 0.0, true);
    return new at::Tensor(std::move(out));
  } catch (const std::exception &e) {
    std::strncpy(error, e.what(), error_len - 1);
    error[error_len - 1] = 0;
    return nullptr;
  }
}
