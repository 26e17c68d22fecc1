#!/usr/bin/env bash
# Regenerates tests/fixtures/neural/ with transformers 4.46.3 + torch 2.4.0 (and lm_eval 0.4.5's
# window functions) in .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install -q torch==2.4.0 transformers==4.46.3 safetensors
.tools/venv/bin/pip install -q --no-deps lm_eval==0.4.5
.tools/venv/bin/python scripts/neural-fixtures.py
