#!/usr/bin/env bash
# Regenerates tests/fixtures/neural/ with transformers 4.46.3 + torch 2.4.0 (and lm_eval 0.4.5's
# window functions), tests/fixtures/gguf/ with gguf-py, and tests/fixtures/smollm2/ with
# transformers on the SmolLM2 GGUF (make models fetches it), and tests/fixtures/gguf/tiny-llama.gguf
# (a complete tiny Llama GGUF with SmolLM2's tokenizer cut short), all in .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install -q torch==2.4.0 transformers==4.46.3 safetensors "gguf==0.19.0" "accelerate==1.1.1"
.tools/venv/bin/pip install -q --no-deps lm_eval==0.4.5
.tools/venv/bin/python scripts/neural-fixtures.py
.tools/venv/bin/python scripts/gguf-fixtures.py
scripts/fetch-models.sh
.tools/venv/bin/python scripts/smollm2-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
.tools/venv/bin/python scripts/fuzz-seed.py
