#!/usr/bin/env bash
# Regenerates tests/fixtures/llama-cpp/ by running llama.cpp's llama-perplexity (built from PyPI's
# llama-cpp-python sdist by scripts/build-llama-cpp.sh) on SmolLM2's Q4_1 GGUF.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-llama-cpp.sh >/dev/null
scripts/fetch-models.sh
.tools/venv/bin/python scripts/llama-cpp-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
