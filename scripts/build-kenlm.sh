#!/usr/bin/env bash
# Builds KenLM's lmplz, query and build_binary from the `kenlm` source package on PyPI into
# .tools/kenlm (used only by fixture generation and benchmarks, never by `make test`).
# Needs: cmake (pip), a C++ compiler, Boost and zlib headers (Debian packages below).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=.tools/kenlm
if [ -x "$PREFIX/bin/lmplz" ] && [ -x "$PREFIX/bin/query" ]; then
  echo "$PREFIX/bin"; exit 0
fi
mkdir -p .tools
if ! dpkg -s libboost-program-options-dev libboost-thread-dev zlib1g-dev >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y -q libboost-program-options-dev libboost-system-dev libboost-thread-dev \
    libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev >&2
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv >&2
.tools/venv/bin/pip install -q cmake >&2
# The sdist's own build wants a Python extension; fetch the archive directly and build the tools.
.tools/venv/bin/python - <<'PY' >&2
import re, urllib.request, tarfile, io, os
html = urllib.request.urlopen("https://pypi.org/simple/kenlm/").read().decode()
url = re.search(r'href="(https://files\.pythonhosted\.org/[^"#]*kenlm-0\.3\.0\.tar\.gz)', html).group(1)
data = urllib.request.urlopen(url).read()
tarfile.open(fileobj=io.BytesIO(data)).extractall(".tools/")
PY
SRC=.tools/kenlm-0.3.0
mkdir -p "$SRC/build"
(cd "$SRC/build" && ../../venv/bin/cmake .. -DCMAKE_BUILD_TYPE=Release >/dev/null && make -j"$(nproc)" lmplz query build_binary >&2)
mkdir -p "$PREFIX/bin"
cp "$SRC/build/bin/lmplz" "$SRC/build/bin/query" "$SRC/build/bin/build_binary" "$PREFIX/bin/"
echo "$PREFIX/bin"
