"""Writes tests/fixtures/human-agreement/summeval.json: SummEval summary-level agreement of
ROUGE-1/2/L (F1, mean over the 11 references; ROUGE-L = rougeLsum after a new line at each " . ")
with the four expert dimensions, per-document Spearman rho and Kendall tau-b over the 16 systems,
then the mean over documents (documents whose ratings are constant are skipped, as numpy's
nanmean skips scipy's NaN): computed by the reference tools themselves, rouge-score and scipy.

Run by scripts/metric-fixtures.sh (make fixtures), in its venv with rouge-score 0.1.2, scipy 1.17.1
and numpy 2.4.6.
"""
import gzip
import json
import os
from importlib.metadata import version

import numpy as np
from rouge_score import rouge_scorer
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "human-judgments", "summeval")
OUT = os.path.join(ROOT, "tests", "fixtures", "human-agreement", "summeval.json")


def jsonl(name):
    with gzip.open(os.path.join(DATA, name), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    docs = {d["doc_id"]: d["references"] for d in jsonl("docs.jsonl.gz")}
    summaries = jsonl("summaries.jsonl.gz")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    lsum = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    split = lambda t: t.replace(" . ", " .\n")
    by_doc = {}
    for s in summaries:
        refs = docs[s["doc_id"]]
        f = np.zeros(3)
        for r in refs:
            n = scorer.score(r, s["summary"])
            f += [n["rouge1"].fmeasure, n["rouge2"].fmeasure, lsum.score(split(r), split(s["summary"]))["rougeLsum"].fmeasure]
        by_doc.setdefault(s["doc_id"], []).append((f / len(refs), s))
    rows = []
    for k, metric in enumerate(["ROUGE-1", "ROUGE-2", "ROUGE-L"]):
        for dim in ["coherence", "consistency", "fluency", "relevance"]:
            rho, tau = [], []
            for items in by_doc.values():
                m = [f[k] for f, _ in items]
                h = [s[dim] for _, s in items]
                rho.append(stats.spearmanr(m, h)[0])
                tau.append(stats.kendalltau(m, h)[0])
            rows.append({"metric": metric, "dim": dim, "spearman": float(np.nanmean(rho)), "kendall": float(np.nanmean(tau)),
                         "documents": int(np.sum(~np.isnan(rho)))})
    out = {"tools": {"rouge-score": version("rouge-score"), "scipy": version("scipy"), "numpy": version("numpy")}, "rows": rows}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
