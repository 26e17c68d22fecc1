"""The whole SummEval meta-evaluation with the reference metrics, lmgauge beside rouge-score 0.1.2,
sacrebleu 2.6.0 and scipy doing the same in one Python process: 1,600 summaries × 11 references,
ROUGE-1, ROUGE-2 and ROUGE-Lsum (sentences at " . ") with stemming (F1, mean over references),
sentence BLEU and chrF; summary-level Spearman ρ and Kendall τ (per document, then the mean) and
system-level Kendall τ and Pearson r (corpus BLEU/chrF from summed statistics, mean ROUGE) on the
four human dimensions, each with a 95% interval from 1,000 bootstrap resamples of the documents.
The Python side is written the way a careful user would: per-document correlations computed once
and resampled, sacrebleu's sufficient statistics summed per resample. Whole processes, median of
REPEATS runs; the point values of both are checked equal first. Prints a Markdown section.
"""
import json, os, statistics, subprocess, sys, tempfile, time

PY = sys.executable
LMGAUGE = os.path.abspath("target/release/lmgauge")
DATA = os.path.abspath("data/human-judgments/summeval")
REPEATS = 3

PYTHON = r'''
import gzip, json, sys, time
import numpy as np
from scipy.stats import kendalltau, pearsonr, spearmanr
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF
t0 = time.perf_counter()
DATA = sys.argv[1]
docs = {d["doc_id"]: d for d in map(json.loads, gzip.open(f"{DATA}/docs.jsonl.gz", "rt"))}
summ = [json.loads(l) for l in gzip.open(f"{DATA}/summaries.jsonl.gz", "rt")]
dims = ["coherence", "consistency", "fluency", "relevance"]
split = lambda t: t.replace(" . ", " .\n")
sc = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
ls = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
bleu, sbleu, chrf = BLEU(), BLEU(effective_order=True), CHRF()
scores = {m: [] for m in ["rouge1", "rouge2", "rougeLsum", "bleu", "chrf"]}
stats = {"bleu": [], "chrf": []}
for s in summ:
    refs = docs[s["doc_id"]]["references"]
    f = [sc.score(r, s["summary"]) for r in refs]
    scores["rouge1"].append(np.mean([x["rouge1"].fmeasure for x in f]))
    scores["rouge2"].append(np.mean([x["rouge2"].fmeasure for x in f]))
    scores["rougeLsum"].append(np.mean([ls.score(split(r), split(s["summary"]))["rougeLsum"].fmeasure for r in refs]))
    scores["bleu"].append(sbleu.sentence_score(s["summary"], refs).score)
    scores["chrf"].append(chrf.sentence_score(s["summary"], refs).score)
    stats["bleu"].append(bleu._extract_corpus_statistics([s["summary"]], [[r] for r in refs])[0])
    stats["chrf"].append(chrf._extract_corpus_statistics([s["summary"]], [[r] for r in refs])[0])
doc_ids = list(docs)
systems = sorted({s["system"] for s in summ})
by_doc = {d: [i for i, s in enumerate(summ) if s["doc_id"] == d] for d in doc_ids}
human = {d: np.array([s[d] for s in summ]) for d in dims}
rng = np.random.default_rng(1234)
samples = [rng.integers(0, len(doc_ids), len(doc_ids)) for _ in range(1000)]
out = {}
for m, v in scores.items():
    v = np.array(v)
    for d in dims:
        per_doc = {}
        for name, f in [("item_spearman", spearmanr), ("item_kendall", kendalltau)]:
            per_doc[name] = np.array([f(v[by_doc[k]], human[d][by_doc[k]])[0] for k in doc_ids])
            value = np.nanmean(per_doc[name])
            boot = [np.nanmean(per_doc[name][s]) for s in samples]
            out[f"{m}@{d}/{name}"] = (value, np.percentile(boot, [2.5, 97.5]))
        def system_scores(sample):
            idx = [i for k in sample for i in by_doc[doc_ids[k]]]
            h, j = [], []
            for sysname in systems:
                mine = [i for i in idx if summ[i]["system"] == sysname]
                h.append(np.mean(human[d][mine]))
                if m in stats:
                    metric = bleu if m == "bleu" else chrf
                    total = np.sum([stats[m][i] for i in mine], axis=0)
                    j.append(metric._compute_score_from_stats(list(total)).score)
                else:
                    j.append(np.mean(v[mine]))
            return np.array(h), np.array(j)
        h, j = system_scores(range(len(doc_ids)))
        boots = [system_scores(s) for s in samples]
        for name, f in [("sys_kendall", kendalltau), ("sys_pearson", pearsonr)]:
            boot = [f(bj, bh)[0] for bh, bj in boots]
            out[f"{m}@{d}/{name}"] = (f(j, h)[0], np.percentile(boot, [2.5, 97.5]))
json.dump({k: v[0] for k, v in out.items()}, open(sys.argv[2], "w"))
print(time.perf_counter() - t0)
'''

SUITE = f"""version: 1
name: bench
seed: 1234
models:
  - {{id: rouge1, kind: metric, metric: rouge1}}
  - {{id: rouge2, kind: metric, metric: rouge2}}
  - {{id: rougeLsum, kind: metric, metric: rougeLsum, sentences: period}}
  - {{id: bleu, kind: metric, metric: bleu}}
  - {{id: chrf, kind: metric, metric: chrf}}
tasks:
  - id: summeval
    type: human-agreement
    dataset: {{path: {DATA}}}
    permutations: 0
    models: [rouge1, rouge2, rougeLsum, bleu, chrf]
    metrics: [item_spearman, item_kendall, sys_kendall, sys_pearson]
"""


def median_wall(cmd, cwd):
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


with tempfile.TemporaryDirectory() as tmp:
    with open(f"{tmp}/suite.yaml", "w") as f:
        f.write(SUITE)
    with open(f"{tmp}/ref.py", "w") as f:
        f.write(PYTHON)
    lm = median_wall([LMGAUGE, "run-suite", "suite.yaml", "--out", "out"], tmp)
    py = median_wall([PY, "ref.py", DATA, "ref.json"], tmp)
    ref = json.load(open(f"{tmp}/ref.json"))
    ours = {}
    for line in open(f"{tmp}/out/bench/latest/results.csv").read().splitlines()[1:]:
        task, model, metric, value = line.split(",")[:4]
        ours[f"{model}/{metric}"] = float(value)
    worst = max(abs(ours[k] - v) for k, v in ref.items())
    assert worst < 1e-9, f"values differ by {worst}"

print("## Human agreement: the SummEval meta-evaluation, lmgauge vs rouge-score + sacrebleu + scipy")
print()
print(f"Measured by `benches/human_agreement.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores. Whole processes, median of {REPEATS} runs.")
print("1,600 summaries × 11 references; ROUGE-1/2/Lsum with stemming, sentence BLEU and chrF; summary-level ρ and τ and system-level τ and r")
print("on four dimensions (80 statistics), each with a 1,000-resample bootstrap interval. Python: one process, the way a careful")
print(f"user writes it (per-document correlations computed once, sacrebleu's statistics summed per resample). The 80 point values agree within {worst:.1e}.")
print()
print("| benchmark | lmgauge s | Python s | speed-up |")
print("|---|---:|---:|---:|")
print(f"| SummEval meta-evaluation (reference metrics + correlations + 1,000 bootstrap resamples) | {lm:.2f} | {py:.2f} | {py / lm:.0f}× |")
print()
print("Target (issue #34): ≥ 20× faster than the Python tools.")
