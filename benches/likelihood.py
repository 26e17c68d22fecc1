"""Likelihood comparison (minimal pairs, multiple choice), lmgauge beside the tools users run for
it, in the same run, on the same machine, data and weights; whole processes on both sides (start,
model load, scoring, results). Prints a Markdown section for docs/BENCHMARKS.md.

* SmolLM2-135M-Instruct (models/smollm2): lmgauge reads the Q4_1 GGUF; lm-evaluation-harness 0.4.5
  (HF backend, transformers 4.46.3, float32, batch size 32) runs the same weights dequantized, with
  the same tokenizer (scripts/lm-eval-fixtures.py builds both). Inputs: the first 10 pairs of each
  shipped BLiMP phenomenon (1,240 sentences; for the harness a local task with an empty context and
  target_delimiter "", which is what `minimal-pairs` computes), and the two shipped multiple-choice
  sets (405 items, 1,050 requests).
* n-gram: a 5-gram that KenLM's lmplz trains on WikiText-2 validation, on all 62 shipped BLiMP
  phenomena (62,000 pairs, 124,000 sentences). Reference: a KenLM Python loop that reads the same
  gzipped JSONL and calls `Model.score(s, bos=True, eos=True)` for each sentence, counting the
  pairs it gets right.

Usage: python benches/likelihood.py KENLM_BIN BENCH_DIR   (run by scripts/bench.sh)
"""
import os, statistics, subprocess, sys, tempfile, time

LMGAUGE = os.path.abspath("target/release/lmgauge")
KENLM_BIN, BENCH = sys.argv[1], os.path.abspath(sys.argv[2])
ROOT = os.getcwd()
GGUF = os.path.join(ROOT, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
PY = sys.executable

HARNESS = r'''
import importlib.util, os, sys, tempfile
import torch
torch.set_num_threads(2)
spec = importlib.util.spec_from_file_location("fx", os.path.join(sys.argv[1], "scripts", "lm-eval-fixtures.py"))
fx = importlib.util.module_from_spec(spec); sys.path.insert(0, os.path.join(sys.argv[1], "scripts")); spec.loader.exec_module(fx)
import gguf, lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
path = sys.argv[2]
tok, bos = __import__("importlib").import_module("smollm2-fixtures").smollm_tokenizer(path)
names = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].contents()
hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=names[bos], eos_token=names[bos])
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), torch_dtype=torch.float32).eval()
model.lm_head.weight = model.model.embed_tokens.weight
lm = HFLM(pretrained=model, tokenizer=hf_tok, batch_size=32)
with tempfile.TemporaryDirectory() as tmp:
    tasks = []
    for spec in sys.argv[3:]:
        name, data, delimiter = spec.split("|")
        if data == "BLIMP":
            data = os.path.join(tmp, "blimp.jsonl"); fx.blimp_sentences(data)
        open(os.path.join(tmp, name + ".yaml"), "w").write(fx.task_yaml(name, data, delimiter))
        tasks.append(name)
    r = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=TaskManager(include_path=tmp), num_fewshot=0, bootstrap_iters=0)
    print(" ".join(f"{t}={r['results'][t]['acc,none']:.4f}" for t in tasks))
'''

KENLM_LOOP = r'''
import gzip, json, os, sys, kenlm
model = kenlm.Model(sys.argv[1])
right = total = 0
folder = sys.argv[2]
for name in sorted(os.listdir(folder)):
    if name.endswith(".jsonl.gz"):
        with gzip.open(os.path.join(folder, name), "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                right += model.score(r["sentence_good"], bos=True, eos=True) > model.score(r["sentence_bad"], bos=True, eos=True)
                total += 1
print(f"accuracy={right / total:.4f} pairs={total}")
'''


def timed(cmd):
    cmd = cmd() if callable(cmd) else cmd
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


def rounds(reference, ours, repeats):
    """Medians over interleaved rounds (this VM's speed drifts; alternating keeps a drift from
    favouring either side)."""
    ref, own = [], []
    for _ in range(repeats):
        ref.append(timed(reference))
        own.append(timed(ours))
    return statistics.median(t for t, _ in ref), ref[-1][1], statistics.median(t for t, _ in own)


def suite(tmp, name, tasks, neural=True):
    """A suite file; without `neural` it names only the n-gram model, so that lmgauge runs it
    without libtorch, as a user's n-gram suite runs."""
    path = os.path.join(tmp, f"{name}.yaml")
    smollm2 = f"  - {{id: smollm2, kind: causal, path: {GGUF}, compute: f32}}\n" if neural else ""
    with open(path, "w") as f:
        f.write(f"version: 1\nname: {name}\nseed: 1\nbootstrap: 100\nmodels:\n{smollm2}"
                f"  - {{id: kn5, kind: ngram, arpa: {os.path.join(BENCH, 'wiki-valid-5.arpa')}}}\ntasks:\n{tasks}")
    # A fresh output folder each round: a run into an existing one would resume, not score.
    return lambda: [LMGAUGE, "run-suite", path, "--out-dir", tempfile.mkdtemp(dir=tmp), "--quiet"]


def main():
    arpa = os.path.join(BENCH, "wiki-valid-5.arpa")
    os.makedirs(BENCH, exist_ok=True)
    if not os.path.exists(arpa):
        with open(os.path.join(ROOT, "data/wikitext-2/valid.txt"), "rb") as text, open(arpa, "wb") as out:
            subprocess.run([os.path.join(KENLM_BIN, "lmplz"), "-o", "5", "-S", "512M", "-T", "/tmp", "--skip_symbols"],
                           stdin=text, stdout=out, stderr=subprocess.DEVNULL, check=True)
    blimp = os.path.join(ROOT, "data/blimp")
    mc = [os.path.join(ROOT, "data/multiple-choice", f) for f in ("blimp-one-prefix.jsonl", "wikitext-endings.jsonl")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pairs = suite(tmp, "pairs", f"  - {{id: blimp, type: minimal-pairs, dataset: {{path: {blimp}}}, per_file: 10, models: [smollm2], metrics: [accuracy]}}\n")
        harness = [PY, "-c", HARNESS, ROOT, GGUF, "blimp_sentences|BLIMP|"]
        rows.append(("SmolLM2, BLiMP slice (620 pairs, 1,240 sentences)", "lm-evaluation-harness 0.4.5 (HF, batch 32)", *rounds(harness, pairs, 2)))
        choice = suite(tmp, "choices", "".join(
            f"  - {{id: mc{i}, type: multiple-choice, dataset: {{path: {p}}}, models: [smollm2], metrics: [acc, acc_norm]}}\n"
            for i, p in enumerate(mc)))
        harness = [PY, "-c", HARNESS, ROOT, GGUF, f"mc_one_prefix|{mc[0]}| ", f"mc_endings|{mc[1]}| "]
        rows.append(("SmolLM2, multiple choice (405 items, 1,050 requests)", "lm-evaluation-harness 0.4.5 (HF, batch 32)", *rounds(harness, choice, 2)))
        ngram = suite(tmp, "ngram", f"  - {{id: blimp, type: minimal-pairs, dataset: {{path: {blimp}}}, models: [kn5], metrics: [accuracy]}}\n", neural=False)
        loop = [PY, "-c", KENLM_LOOP, arpa, blimp]
        rows.append(("5-gram, all of BLiMP (62,000 pairs, 124,000 sentences)", "KenLM Python loop (`Model.score`)", *rounds(loop, ngram, 3)))
    print("## Likelihood comparison: minimal pairs and multiple choice\n")
    print("Whole processes on both sides (start, model load, scoring, results; lmgauge also writes its")
    print("report), 2 threads, medians of interleaved rounds. SmolLM2 runs the same weights on both sides")
    print("(lmgauge from the Q4_1 GGUF dequantized to f32, the harness from transformers' dequantization);")
    print("the per-sentence log-likelihoods agree within 1e-4 (tests/integration/multiple_choice.rs).\n")
    startup = statistics.median(timed([LMGAUGE, "--version"])[0] for _ in range(5))
    torch = statistics.median(timed([LMGAUGE + "-torch", "--version"])[0] for _ in range(5))
    print(f"Start-up: the SmolLM2 suites run in `lmgauge-torch` (the launcher hands them over; loading libtorch")
    print(f"takes {torch:.2f} s of each of those times), the n-gram suite in `lmgauge` itself ({startup * 1000:.0f} ms).\n")
    print("| input | reference | reference s | lmgauge s | speed-up |")
    print("|---|---|---:|---:|---:|")
    for what, ref, ref_s, ref_out, own_s in rows:
        print(f"| {what} | {ref} (`{ref_out.strip()}`) | {ref_s:.1f} | {own_s:.1f} | {ref_s / own_s:.2f}× |")


if __name__ == "__main__":
    main()
