#!/usr/bin/env bash
# Builds llama.cpp's llama-perplexity, llama-bench, llama-completion, llama-quantize and llama-tokenize from the sources
# vendored in PyPI's llama-cpp-python 0.3.36 source package into .tools/llama.cpp (CPU only, the
# machine's native instruction set). Used by the quantized-GGUF fixtures and benchmarks, never by
# `make test`. Needs cmake (pip) and a C++ compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=.tools/llama.cpp
VERSION=0.3.36
if [ -x "$PREFIX/bin/llama-perplexity" ] && [ -x "$PREFIX/bin/llama-bench" ] && [ -x "$PREFIX/bin/llama-quantize" ] && [ -x "$PREFIX/bin/llama-tokenize" ]; then
  echo "$PREFIX/bin"; exit 0
fi
mkdir -p .tools
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv >&2
.tools/venv/bin/pip install -q cmake >&2
VERSION=$VERSION .tools/venv/bin/python - <<'PY' >&2
import io, os, re, tarfile, urllib.request
version = os.environ["VERSION"]
html = urllib.request.urlopen("https://pypi.org/simple/llama-cpp-python/").read().decode()
url = re.search(r'href="(https://files\.pythonhosted\.org/[^"#]*llama_cpp_python-%s\.tar\.gz)' % re.escape(version), html).group(1)
data = urllib.request.urlopen(url).read()
tarfile.open(fileobj=io.BytesIO(data)).extractall(".tools/")
PY
SRC=.tools/llama_cpp_python-$VERSION/vendor/llama.cpp
mkdir -p "$SRC/build"
(cd "$SRC/build" && ../../../../venv/bin/cmake .. -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null &&
  make -j"$(nproc)" llama-perplexity llama-bench llama-completion llama-quantize llama-tokenize >&2)
mkdir -p "$PREFIX/bin"
for t in llama-perplexity llama-bench llama-completion llama-quantize llama-tokenize; do cp "$SRC/build/bin/$t" "$PREFIX/bin/"; done
echo "$PREFIX/bin"
