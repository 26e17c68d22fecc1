"""Writes tests/fixtures/human-agreement/bertscore.json: the bert-score package's BERTScore
(precision, recall, F1; no baseline rescaling) of the first 8 SummEval documents' 128 system
summaries against each document's 11 references, for lmgauge's `kind: encoder` judge to equal
within 1e-5. Recipes: all-MiniLM-L6-v2 at its last layer (6) without idf, at layer 4 with idf,
and the bert-tiny MLM folder (BertForMaskedLM weights, head dropped) at layer 2.

idf is bert-score's own get_idf_dict over every reference of the 8 documents, each once (what
lmgauge computes), passed to score() as a dict; with idf=True bert-score would count each reference
once per candidate compared with it.

    scripts/metric-fixtures.sh    (installs torch 2.4.0, transformers 4.46.3 and bert-score 0.3.13
                                   into .tools/venv, fetches the two model folders, runs this)
"""
import gzip
import json
from importlib.metadata import version

import bert_score
import torch
from bert_score.utils import get_idf_dict, get_tokenizer

DOCS = 8
SUMMEVAL = "data/human-judgments/summeval"
RECIPES = [
    ("minilm-l6", "models/all-minilm-l6-v2", 6, False),
    ("minilm-l4-idf", "models/all-minilm-l6-v2", 4, True),
    ("bert-tiny-l2", "models/splade-tiny-bert", 2, False),
]

torch.set_num_threads(2)
docs = [json.loads(l) for l in gzip.open(f"{SUMMEVAL}/docs.jsonl.gz", "rt", encoding="utf-8")][:DOCS]
references = {d["doc_id"]: d["references"] for d in docs}
keys, cands, refs = [], [], []
for line in gzip.open(f"{SUMMEVAL}/summaries.jsonl.gz", "rt", encoding="utf-8"):
    s = json.loads(line)
    if s["doc_id"] in references:
        keys.append(f"{s['doc_id']}/{s['system']}")
        cands.append(s["summary"])
        refs.append(references[s["doc_id"]])

out = {
    "tool": f"bert-score {version('bert-score')}, transformers {version('transformers')}, torch {version('torch')}",
    "documents": DOCS,
    "recipes": {},
}
for name, path, layer, idf in RECIPES:
    idf_arg = False
    if idf:
        tokenizer = get_tokenizer(path, use_fast=True)
        idf_arg = get_idf_dict([r for d in docs for r in d["references"]], tokenizer, nthreads=0)
    p, r, f = bert_score.score(
        cands, refs, model_type=path, num_layers=layer, idf=idf_arg, batch_size=64, use_fast_tokenizer=True
    )
    out["recipes"][name] = {
        "path": path,
        "layer": layer,
        "idf": idf,
        "scores": {k: [float(a), float(b), float(c)] for k, a, b, c in zip(keys, p, r, f)},
    }
with open("tests/fixtures/human-agreement/bertscore.json", "w", encoding="utf-8") as fh:
    json.dump(out, fh, indent=0)
    fh.write("\n")
