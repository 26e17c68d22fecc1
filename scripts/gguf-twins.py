"""Writes tests/fixtures/gguf-twins/: GGUF files of the tiny decoder checkpoints in
tests/fixtures/neural/ (written there by scripts/neural-fixtures.py with transformers' own model
classes), as llama.cpp's convert_hf_to_gguf.py lays them out, in F16 and Q8_0 — the safetensors
folder is each file's twin, and the tests require the two to give the same log-probabilities
within what the weights' rounding explains.

  <name>.F16.gguf   2-D weights as F16 (rounded by numpy, as convert_hf_to_gguf.py --outtype f16)
  <name>.Q8_0.gguf  2-D weights quantized by gguf-py's Q8_0 quantizer (rows whose length is not a
                    multiple of 32 stay F16, as llama-quantize leaves them)
  norms and biases stay F32. Tensor names, metadata keys and layouts are convert_hf_to_gguf.py's
  for each architecture: Llama's query/key rows permuted for llama.cpp's adjacent-pair rope, its
  linear rope scaling as `rope.scaling.type` and Llama 3.1's as the `rope_freqs` divisors
  computed as convert_hf_to_gguf.py computes them, Gemma's norm weights stored as `1 + w`,
  Qwen2's and Gemma's rotary pairs as they are (llama.cpp's NEOX rope). One departure: llama.cpp scales Gemma 3's queries
  by 1/sqrt(head_dim) and no GGUF key says otherwise, while the tiny checkpoint's
  query_pre_attn_scalar (12) differs from its head size (16) so that a reader confusing the two
  fails; the twin folds sqrt(16/12) into the query norm weights, which scale the queries
  linearly before the rope, so llama.cpp's computation of the file equals transformers' of the
  checkpoint. (convert_hf_to_gguf.py would write such a checkpoint unfolded; real Gemma 3
  checkpoints have query_pre_attn_scalar = head_dim, or d/heads for 27B, as llama.cpp assumes.)

The tokenizer is the folder's byte-level BPE (`tokenizer.json`) written as
`tokenizer.ggml.model = gpt2` with `pre = gpt-2` (the folders' pre-tokenizer is GPT-2's), the
added tokens as control tokens, and the folder's BOS/EOS ids.

Run: .tools/venv/bin/python scripts/gguf-twins.py   (needs gguf==0.19.0, safetensors, numpy)
"""
import json
import math
import os

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "fixtures", "neural")
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf-twins")

# name -> llama.cpp architecture
TWINS = {
    "llama3-rope": "llama",
    "llama-linear-rope": "llama",
    # convert_hf_to_gguf.py writes Mistral as `llama`, without its sliding window (llama.cpp's
    # llama has none): the test compares it in windows no longer than the checkpoint's window.
    "mistral-window": "llama",
    "qwen2-tied": "qwen2",
    "qwen2-untied": "qwen2",
    "gemma2-softcap": "gemma2",
    "gemma3-local-global": "gemma3",
}

LAYER = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
GEMMA_NORMS = {
    "post_attention_layernorm": "post_attention_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
}


def gguf_name(hf, gemma):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    _, _, layer, rest = hf.split(".", 3)
    module, kind = rest.rsplit(".", 1)
    table = {**LAYER, **(GEMMA_NORMS if gemma else {"post_attention_layernorm": "ffn_norm"})}
    return f"blk.{layer}.{table[module]}.{kind}"


def permute(weights, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: each head's rows reordered for llama.cpp's
    adjacent-pair rope."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama3_rope_factors(c, head_dim):
    """convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors: Llama 3.1's frequency bands as
    per-frequency divisors (`rope_freqs.weight`), computed as it computes them."""
    import torch
    r = c["rope_scaling"]
    base = c.get("rope_theta", 10000.0)
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    factor, low, high, old = r.get("factor", 8.0), r.get("low_freq_factor", 1.0), r.get("high_freq_factor", 4.0), \
        r.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32).numpy()


def tokenizer(w, folder):
    tok = json.load(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8"))
    assert tok["model"]["type"] == "BPE" and tok["pre_tokenizer"]["type"] == "ByteLevel", folder
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    added = {a["id"] for a in tok["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    config = json.load(open(os.path.join(folder, "config.json")))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([3 if i in added else 1 for i in range(len(tokens))])
    w.add_token_merges(merges)
    w.add_bos_token_id(config["bos_token_id"])
    w.add_eos_token_id(config["eos_token_id"])
    w.add_add_bos_token(False)


def write(name, arch, outtype):
    folder = os.path.join(SRC, name)
    c = json.load(open(os.path.join(folder, "config.json")))
    tensors = load_file(os.path.join(folder, "model.safetensors"))
    path = os.path.join(OUT, f"{name}.{outtype.name}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"lmgauge twin of tests/fixtures/neural/{name} ({outtype.name})")
    heads, hidden = c["num_attention_heads"], c["hidden_size"]
    head_dim = c.get("head_dim") or hidden // heads
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(hidden)
    w.add_block_count(c["num_hidden_layers"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(c.get("num_key_value_heads") or heads)
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    w.add_rope_freq_base(c.get("rope_theta", 10000.0))
    if head_dim != hidden // heads or arch.startswith("gemma"):
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    gemma = arch.startswith("gemma")
    if arch == "gemma2":
        # convert_hf_to_gguf.py's Gemma2Model.
        w.add_attn_logit_softcapping(c["attn_logit_softcapping"])
        w.add_final_logit_softcapping(c["final_logit_softcapping"])
        w.add_sliding_window(c["sliding_window"])
    if arch == "gemma3":
        # convert_hf_to_gguf.py's Gemma3Model: the window and the local rope base; the pattern
        # is llama.cpp's default (6) unless written, so it is written.
        w.add_sliding_window(c["sliding_window"])
        w.add_rope_freq_base_swa(c["rope_local_base_freq"])
        pattern = c["sliding_window_pattern"]
        w.add_sliding_window_pattern([bool((i + 1) % pattern) for i in range(c["num_hidden_layers"])])
        scaling = c.get("rope_scaling")
        if scaling:
            assert scaling["rope_type"] == "linear", scaling
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(scaling["factor"])
    if arch == "llama" and c.get("rope_scaling"):
        kind = c["rope_scaling"].get("rope_type", c["rope_scaling"].get("type"))
        if kind == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(c["rope_scaling"]["factor"])
        else:
            assert kind == "llama3", kind
            w.add_tensor("rope_freqs.weight", llama3_rope_factors(c, head_dim))
    tokenizer(w, folder)
    tied = "lm_head.weight" not in tensors or c.get("tie_word_embeddings", False)
    for hf in sorted(tensors):
        if hf == "lm_head.weight" and tied:
            continue
        data = tensors[hf].astype(np.float32)
        if gemma and hf.endswith("norm.weight"):
            data = data + 1.0
        if arch == "llama" and hf.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute(data, heads)
        if arch == "llama" and hf.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute(data, c.get("num_key_value_heads") or heads)
        # llama.cpp scales Gemma's queries by 1/sqrt(head_dim) whatever the checkpoint's
        # query_pre_attn_scalar (convert_hf_to_gguf.py does not write it); the tiny checkpoints'
        # differs, so its factor is folded into what scales the queries linearly before the
        # (linear) rope: Gemma 3's query norm, Gemma 2's query projection.
        fold = np.float32(np.sqrt(head_dim / c.get("query_pre_attn_scalar", head_dim)))
        if (arch == "gemma3" and hf.endswith("q_norm.weight")) or (arch == "gemma2" and hf.endswith("q_proj.weight")):
            data = data * fold
        if data.ndim == 2:
            if outtype == T.Q8_0 and data.shape[1] % 32 == 0:
                w.add_tensor(gguf_name(hf, gemma), gguf.quants.quantize(data, T.Q8_0), raw_dtype=T.Q8_0)
            else:
                w.add_tensor(gguf_name(hf, gemma), data.astype(np.float16))
        else:
            w.add_tensor(gguf_name(hf, gemma), data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, arch in TWINS.items():
        for outtype in (T.F16, T.Q8_0):
            path = write(name, arch, outtype)
            print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
