#!/usr/bin/env bash
# Regenerates tests/fixtures/neural/ with transformers 4.46.3 + torch 2.4.0 (and lm_eval 0.4.5's
# window functions), tests/fixtures/gguf/ with gguf-py, and tests/fixtures/smollm2/ with
# transformers on the SmolLM2 GGUF (make models fetches it), and tests/fixtures/gguf/tiny-llama.gguf
# (a complete tiny Llama GGUF with SmolLM2's tokenizer cut short), all in .tools/venv; then the
# Gemma 3 fixtures with transformers 4.50.3 (installed beside, in .tools/transformers-4.50), the
# GGUF twins of the tiny decoders, and the tokenizer and Gemma 3 270M fixtures that run
# llama.cpp (scripts/build-llama-cpp.sh).
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
.tools/venv/bin/pip install -q sentencepiece==0.2.0 protobuf==5.28.3
[ -f .tools/transformers-4.50/transformers/__init__.py ] || .tools/venv/bin/pip install -q --target .tools/transformers-4.50 \
    --no-deps transformers==4.50.3 tokenizers==0.21.1 huggingface_hub==0.30.2
PYTHONPATH=.tools/transformers-4.50 .tools/venv/bin/python scripts/neural-fixtures.py gemma3
.tools/venv/bin/python scripts/gguf-twins.py
scripts/build-llama-cpp.sh >/dev/null
.tools/venv/bin/python scripts/gguf-tokenizer-fixtures.py --hf --gemma3 models/gemma3/gemma-3-270m-q4_k_m.gguf
PYTHONPATH=.tools/transformers-4.50 .tools/venv/bin/python scripts/gemma3-fixtures.py models/gemma3/gemma-3-270m-q4_k_m.gguf
