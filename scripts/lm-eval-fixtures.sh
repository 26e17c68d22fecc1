#!/usr/bin/env bash
# Regenerates tests/fixtures/multiple-choice/expected.json: lm-evaluation-harness 0.4.5 (HF
# backend, transformers 4.46.3, torch 2.4.0 CPU) on SmolLM2 and KenLM's Python module on the
# lmplz 5-gram, over the shipped multiple-choice data and a BLiMP slice
# (scripts/lm-eval-fixtures.py says exactly what). Needs `make models`. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
# torch without its CUDA wheels (CPU is all the fixture needs), then the harness with versions
# that work with transformers 4.46.3.
.tools/venv/bin/pip install -q --no-deps torch==2.4.0
.tools/venv/bin/pip install -q filelock typing-extensions sympy networkx jinja2 fsspec numpy
.tools/venv/bin/pip install -q lm_eval==0.4.5 kenlm gguf==0.19.0
.tools/venv/bin/pip install -q transformers==4.46.3 "tokenizers<0.21" peft==0.13.2 accelerate==1.1.1 \
  datasets==3.1.0 evaluate==0.4.3
scripts/fetch-models.sh
python3 scripts/multiple-choice-data.py
.tools/venv/bin/python scripts/lm-eval-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
