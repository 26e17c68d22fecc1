"""Writes tests/fixtures/gguf/tiny-llama.gguf: a complete, loadable Llama GGUF of a few KB, the
fuzzer's seed for everything past the tensor table (the `llama.*` configuration and the
`tokenizer.ggml.*` BPE tokenizer with SmolLM2's pre-tokenizer), which the quantized-block fixtures
do not carry. Vocabulary: SmolLM2-135M-Instruct's first 320 tokens (its specials and byte-level
alphabet among them) and the merges among them; weights: random F32 and F16 (seeded), 2 layers,
d=16, 4 query / 2 key-value heads.

Run: .tools/venv/bin/python scripts/fuzz-seed.py   (needs models/smollm2 from `make models`)
"""
import os

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf", "tiny-llama.gguf")
VOCAB, D, FF, LAYERS, HEADS, KV = 320, 16, 24, 2, 4, 2


def main():
    r = gguf.GGUFReader(SRC)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()[:VOCAB]
    types = r.fields["tokenizer.ggml.token_type"].contents()[:VOCAB]
    known = set(tokens)
    merges = [m for m in r.fields["tokenizer.ggml.merges"].contents()
              if all(p in known for p in m.split(" ", 1)) and m.replace(" ", "") in known]
    w = gguf.GGUFWriter(OUT, "llama")
    w.add_name("lmgauge tiny llama (fuzz seed)")
    w.add_context_length(64)
    w.add_embedding_length(D)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_rope_dimension_count(D // HEADS)
    w.add_rope_freq_base(100000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(int(r.fields["tokenizer.ggml.bos_token_id"].contents()))
    w.add_eos_token_id(int(r.fields["tokenizer.ggml.eos_token_id"].contents()))
    rng = np.random.default_rng(20261129)
    f32 = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)
    w.add_tensor("token_embd.weight", f32(VOCAB, D))
    hd = D // HEADS
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", f32(D) + 1)
        w.add_tensor(f"blk.{i}.attn_q.weight", f32(D, D).astype(np.float16))
        w.add_tensor(f"blk.{i}.attn_k.weight", f32(KV * hd, D).astype(np.float16))
        w.add_tensor(f"blk.{i}.attn_v.weight", f32(KV * hd, D))
        w.add_tensor(f"blk.{i}.attn_output.weight", f32(D, D))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", f32(D) + 1)
        w.add_tensor(f"blk.{i}.ffn_gate.weight", f32(FF, D))
        w.add_tensor(f"blk.{i}.ffn_up.weight", f32(FF, D))
        w.add_tensor(f"blk.{i}.ffn_down.weight", f32(D, FF))
    w.add_tensor("output_norm.weight", f32(D) + 1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(OUT, os.path.getsize(OUT), "bytes,", len(merges), "merges")


if __name__ == "__main__":
    main()
