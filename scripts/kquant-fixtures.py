"""Writes tests/fixtures/llama-cpp/tiny-256.*: a small Llama GGUF whose every matrix has rows of a
multiple of 256 values, quantized by llama.cpp's own llama-quantize to Q4_K_M (Q4_K and Q6_K
tensors) and Q5_1, and llama-perplexity's chunked perplexity of each on the first 20,000
characters of WikiText-2 test (chunks of 128, one thread) with weight repacking on (llama.cpp's
default on x86) and off (`--no-repack`: the plain `ggml_vec_dot_*` kernels lmgauge follows).

The model: SmolLM2-135M-Instruct's first 320 tokens (as scripts/fuzz-seed.py), 2 layers, d=256,
4 query / 2 key-value heads of 64, feed-forward 512; random weights (seeded), scaled so that its
distributions are far from uniform. The F32 file is written to a temporary folder only.

Run: .tools/venv/bin/python scripts/kquant-fixtures.py   (after scripts/build-llama-cpp.sh and
`make models`)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "fixtures", "llama-cpp")
BIN = os.path.join(ROOT, ".tools", "llama.cpp", "bin")
VOCAB, D, FF, LAYERS, HEADS, KV = 320, 256, 512, 2, 4, 2


def write_f32(path):
    r = gguf.GGUFReader(SRC)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()[:VOCAB]
    types = r.fields["tokenizer.ggml.token_type"].contents()[:VOCAB]
    known = set(tokens)
    merges = [m for m in r.fields["tokenizer.ggml.merges"].contents()
              if all(p in known for p in m.split(" ", 1)) and m.replace(" ", "") in known]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("lmgauge tiny llama, d=256 (K-quant fixture)")
    w.add_context_length(512)
    w.add_embedding_length(D)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_rope_dimension_count(D // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(int(r.fields["tokenizer.ggml.bos_token_id"].contents()))
    w.add_eos_token_id(int(r.fields["tokenizer.ggml.eos_token_id"].contents()))
    rng = np.random.default_rng(20261203)
    mat = lambda rows, cols, scale: (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)
    norm = lambda: (1 + 0.1 * rng.standard_normal(D)).astype(np.float32)
    w.add_tensor("token_embd.weight", mat(VOCAB, D, 3.0))
    hd = D // HEADS
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", norm())
        w.add_tensor(f"blk.{i}.attn_q.weight", mat(D, D, 3.0))
        w.add_tensor(f"blk.{i}.attn_k.weight", mat(KV * hd, D, 3.0))
        w.add_tensor(f"blk.{i}.attn_v.weight", mat(KV * hd, D, 1.0))
        w.add_tensor(f"blk.{i}.attn_output.weight", mat(D, D, 1.0))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", norm())
        w.add_tensor(f"blk.{i}.ffn_gate.weight", mat(FF, D, 1.0))
        w.add_tensor(f"blk.{i}.ffn_up.weight", mat(FF, D, 1.0))
        w.add_tensor(f"blk.{i}.ffn_down.weight", mat(D, FF, 1.0))
    w.add_tensor("output_norm.weight", norm())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def perplexity(model, text, repack):
    args = [os.path.join(BIN, "llama-perplexity"), "-m", model, "-f", text, "-c", "128", "-b", "128", "-t", "1",
            "--no-warmup"] + ([] if repack else ["--no-repack"])
    out = subprocess.run(args, capture_output=True, text=True)
    log = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(log)
    final = re.search(r"Final estimate: PPL = (\d+\.\d+)", log)
    chunks = re.search(r"calculating perplexity over (\d+) chunks", log)
    return {"ppl": float(final.group(1)), "chunks": int(chunks.group(1))}


def main():
    text = os.path.join(OUT, "wikitext-kld.txt")
    expected = {"llama_cpp": "llama-cpp-python 0.3.36 (vendored llama.cpp), CPU, GGML_NATIVE", "text": "wikitext-kld.txt",
                "n_ctx": 128, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "tiny-256.F32.gguf")
        write_f32(f32)
        for kind in ("Q4_K_M", "Q5_1"):
            path = os.path.join(OUT, f"tiny-256.{kind}.gguf")
            out = subprocess.run([os.path.join(BIN, "llama-quantize"), f32, path, kind, "1"], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(out.stdout + out.stderr)
            types = sorted({t.tensor_type.name for t in gguf.GGUFReader(path).tensors})
            expected["files"][os.path.basename(path)] = {
                "types": types, "repack": perplexity(path, text, True), "no_repack": perplexity(path, text, False)}
    with open(os.path.join(OUT, "tiny-256.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(json.dumps(expected["files"]))


if __name__ == "__main__":
    main()
