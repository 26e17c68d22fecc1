"""Measuring quantization: lmgauge beside llama.cpp (scripts/build-llama-cpp.sh) on the files a
quantization comparison reads, in the same run. Prints a Markdown section for docs/BENCHMARKS.md.

* Perplexity of SmolLM2's F16 file (models/smollm2-requant, `make models`) and of a Q4_K_M file
  written from it by llama-quantize (Q5_0, Q4_K, Q6_K, Q8_0 matrices): `llama-perplexity -c 512`
  beside `lmgauge perplexity --windows llama-perplexity`, on the first 20,000 characters of
  WikiText-2 test (tests/fixtures/llama-cpp/wikitext-kld.txt, 8 chunks).
* KL divergence of the Q4_0 file from the F16 one on the same text: llama.cpp's two processes
  (`--kl-divergence-base` on the base, then `--kl-divergence` on the quantized file) beside one
  `lmgauge run-suite` of a kl-divergence task (which runs both models and compares every row).

Whole processes, 2 threads, medians of REPEATS runs.

Usage: python benches/quantization.py LLAMA_BIN_DIR
"""
import datetime, os, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LMGAUGE = os.path.join(ROOT, "target/release/lmgauge")
MODELS = os.path.join(ROOT, "models/smollm2-requant")
TEXT = os.path.join(ROOT, "tests/fixtures/llama-cpp/wikitext-kld.txt")
THREADS = 2
REPEATS = 3


def run(cmd, env=None, cwd=None):
    with tempfile.NamedTemporaryFile() as t:
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd, capture_output=True, text=True, cwd=cwd,
                             env={**os.environ, **(env or {})})
        secs = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{cmd} failed:\n{out.stderr[-3000:]}")
        return secs, int(open(t.name).read().split()[-1]) / 1024, out.stdout + out.stderr


def median_of(runs):
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def main():
    bin_dir = sys.argv[1]
    env = {"RAYON_NUM_THREADS": str(THREADS)}
    f16, q4_0 = (os.path.join(MODELS, f"SmolLM2-135M-Instruct.{q}.gguf") for q in ("F16", "Q4_0"))
    tmp = tempfile.mkdtemp()
    q4km = os.path.join(tmp, "SmolLM2-135M-Instruct.Q4_K_M.gguf")
    run([os.path.join(bin_dir, "llama-quantize"), f16, q4km, "Q4_K_M", "2"])
    rows = []
    for name, model in (("F16", f16), ("Q4_K_M (llama-quantize)", q4km)):
        ls, lm, lout = median_of([run([LMGAUGE, "perplexity", "--model", model, "--input", TEXT, "--unit", "file",
                                       "--windows", "llama-perplexity", "--json"], env) for _ in range(REPEATS)])
        cs, cm, cout = median_of([run([os.path.join(bin_dir, "llama-perplexity"), "-m", model, "-f", TEXT, "-c", "512",
                                       "-b", "512", "-t", str(THREADS), "--no-warmup"]) for _ in range(REPEATS)])
        lp = float(re.search(r'"token_perplexity": ([0-9.]+)', lout).group(1))
        cp = float(re.search(r"Final estimate: PPL = (\d+\.\d+)", cout).group(1))
        rows.append((f"perplexity, {name}", ls, cs, lm, cm, f"{lp:.4f} / {cp:.4f}"))

    suite = os.path.join(tmp, "kl.yaml")
    with open(suite, "w") as f:
        f.write(f"""version: 1
name: kl
seed: 1
models:
  - {{id: f16, kind: causal, path: {f16}, windows: llama-perplexity}}
  - {{id: q4_0, kind: causal, path: {q4_0}, windows: llama-perplexity}}
tasks:
  - id: kld
    type: kl-divergence
    base: f16
    dataset: {{path: {TEXT}, format: text, unit: file}}
    models: [q4_0]
    metrics: [kl_divergence, top1_agreement]
""")
    lmg = [run([LMGAUGE, "run-suite", suite, "--out-dir", os.path.join(tmp, f"out{i}"), "--quiet"], env) for i in range(REPEATS)]
    ls, lm, _ = median_of(lmg)
    with open(os.path.join(tmp, f"out{REPEATS - 1}", "kl", "latest", "results.csv")) as f:
        kld = [l.split(",")[3] for l in f if ",kl_divergence," in l][0]
    base_file = os.path.join(tmp, "base.kld")
    common = ["-f", TEXT, "-c", "512", "-b", "512", "-t", str(THREADS), "--no-warmup"]
    llama = []
    for _ in range(REPEATS):
        a = run([os.path.join(bin_dir, "llama-perplexity"), "-m", f16, "--kl-divergence-base", base_file] + common)
        b = run([os.path.join(bin_dir, "llama-perplexity"), "-m", q4_0, "--kl-divergence-base", base_file,
                 "--kl-divergence"] + common)
        llama.append((a[0] + b[0], max(a[1], b[1]), b[2]))
    cs, cm, cout = median_of(llama)
    ckld = re.search(r"Mean    KLD:\s+(\S+)", cout).group(1)
    rows.append(("KL divergence, Q4_0 against F16", ls, cs, lm, cm, f"{float(kld):.6f} / {ckld}"))

    day = datetime.date.today().isoformat()
    print("## Measuring quantization: lmgauge vs llama.cpp\n")
    print(f"Measured by `benches/quantization.py` (run by `make bench`) on {day}: {os.cpu_count()} cores, "
          f"{THREADS} threads on both sides, the first 20,000 characters of WikiText-2 test in chunks of 512 "
          "(8 chunks, 2,040 scored tokens), SmolLM2-135M-Instruct's F16 and Q4_0 files from `make models` and a "
          "Q4_K_M file written from the F16 one by llama-quantize. llama.cpp from PyPI llama-cpp-python 0.3.36's "
          f"vendored sources (native CPU features, its repacked kernels). Medians of {REPEATS} whole-process runs "
          "(the KL row: llama.cpp's two processes together); memory is the peak RSS of the larger process. A "
          "ratio above 1 means lmgauge is faster.\n")
    print("| job | lmgauge s | llama.cpp s | speed ratio | lmgauge MiB | llama.cpp MiB | memory ratio | lmgauge / llama.cpp result |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ls, cs, lm, cm, result in rows:
        print(f"| {name} | {ls:.2f} | {cs:.2f} | {cs / ls:.2f}× | {lm:.0f} | {cm:.0f} | {lm / cm:.2f}× | {result} |")


if __name__ == "__main__":
    main()
