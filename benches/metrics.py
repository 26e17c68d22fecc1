"""BLEU, chrF and ROUGE (with stemming) over the full newstest2017 en-de system outputs, lmgauge
beside sacrebleu 2.6.0 and rouge-score 0.1.2 in the same run. Prints a Markdown section.

Two comparisons per metric: whole command against whole command (what a user waits for,
interpreter start-up included), and lmgauge's whole command against the reference library's call
alone (inside an already running Python, no start-up or import), which is the ratio the
targets are about. Medians of REPEATS runs.
"""
import json, os, statistics, subprocess, sys, time

PY = sys.executable
LMGAUGE = "target/release/lmgauge"
WMT = "data/wmt17-en-de"
REF = f"{WMT}/newstest2017.ref.de"
SYSTEMS = [f"{WMT}/newstest2017.{s}.hyp.de" for s in ["uedin-nmt.4722", "KIT.4950", "online-B.0", "PROMT-Rule-based.4735"]]
REPEATS = 5


def wall(cmd):
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def library(code):
    """Median seconds of the timed region of `code` (it prints its own elapsed time)."""
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True).stdout
        runs.append(float(out.strip().splitlines()[-1]))
    return statistics.median(runs)


LOAD = f"""
import time
ref = open({REF!r}, encoding='utf-8').read().rstrip('\\n').split('\\n')
systems = [open(p, encoding='utf-8').read().rstrip('\\n').split('\\n') for p in {SYSTEMS!r}]
"""

rows = []
# BLEU
lm = wall([LMGAUGE, "bleu", "-r", REF] + sum([["-i", s] for s in SYSTEMS], []))
cli = wall([PY, "-m", "sacrebleu", REF, "-i"] + SYSTEMS + ["-m", "bleu"])
api = library(LOAD + "from sacrebleu.metrics import BLEU\nt = time.perf_counter()\nfor s in systems: BLEU().corpus_score(s, [ref])\nprint(time.perf_counter() - t)")
rows.append(("BLEU, 4 systems × 3,004 segments", lm, cli, api))
# chrF
lm = wall([LMGAUGE, "chrf", "-r", REF] + sum([["-i", s] for s in SYSTEMS], []))
cli = wall([PY, "-m", "sacrebleu", REF, "-i"] + SYSTEMS + ["-m", "chrf"])
api = library(LOAD + "from sacrebleu.metrics import CHRF\nt = time.perf_counter()\nfor s in systems: CHRF().corpus_score(s, [ref])\nprint(time.perf_counter() - t)")
rows.append(("chrF, 4 systems", lm, cli, api))
lm = wall([LMGAUGE, "chrf", "--word-order", "2", "-r", REF] + sum([["-i", s] for s in SYSTEMS], []))
cli = wall([PY, "-m", "sacrebleu", REF, "-i"] + SYSTEMS + ["-m", "chrf", "--chrf-word-order", "2"])
api = library(LOAD + "from sacrebleu.metrics import CHRF\nt = time.perf_counter()\nfor s in systems: CHRF(word_order=2).corpus_score(s, [ref])\nprint(time.perf_counter() - t)")
rows.append(("chrF++, 4 systems", lm, cli, api))
# ROUGE with stemming, all four types, plus the bootstrap aggregator (1000 resamples)
def lm_rouge():
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for s in SYSTEMS:
            subprocess.run([LMGAUGE, "rouge", "-r", REF, "-i", s, "--json"], check=True, stdout=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)
lm = lm_rouge()
api = library(LOAD + """from rouge_score import rouge_scorer, scoring
sc = rouge_scorer.RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'], use_stemmer=True)
t = time.perf_counter()
for s in systems:
    agg = scoring.BootstrapAggregator()
    for r, h in zip(ref, s):
        agg.add_scores(sc.score(r, h))
    agg.aggregate()
print(time.perf_counter() - t)""")
rows.append(("ROUGE-1/2/L/Lsum with stemming + bootstrap, 4 systems", lm, None, api))

print("## Reference metrics: lmgauge vs sacrebleu 2.6.0 and rouge-score 0.1.2\n")
print("Data: WMT17 newstest2017 en→de, the reference and four system outputs (3,004 segments each). "
      "lmgauge's figures are whole commands (process start, reading files, scoring, printing). "
      "\"Library call\" is the reference tool's scoring call alone, timed inside Python after import; "
      "\"command\" is its whole command line (`python -m sacrebleu`). Speed-up = reference time / lmgauge time.\n")
print("| benchmark | lmgauge s | reference command s | speed-up vs command | reference library call s | speed-up vs library call |")
print("|---|---:|---:|---:|---:|---:|")
for name, l, c, a in rows:
    cs = f"{c:.2f} | {c / l:.1f}×" if c else "– | –"
    print(f"| {name} | {l:.3f} | {cs} | {a:.2f} | {a / l:.1f}× |")
print("\nTargets (issue #3): ≥ 20× faster than sacrebleu for BLEU and chrF, ≥ 30× faster than rouge-score.\n")
