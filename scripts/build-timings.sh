#!/usr/bin/env bash
# The first build as `make run` does it, measured: a fresh clone of HEAD built from nothing with
# `cargo build --release --locked --timings` into its own target folder (registry sources already
# downloaded, libtorch already extracted, as on a machine after `make setup`). Prints the wall
# time and the longest compilation units; cargo's HTML report stays in the target folder.
# Used for the "Build time" section of docs/BENCHMARKS.md (issue #21). About 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
git clone -q "$root" "$work/src"
ln -s "$root/libtorch" "$work/src/libtorch"
start=$(date +%s)
(cd "$work/src" && CARGO_TARGET_DIR="$work/target" cargo build --release --locked --timings >/dev/null 2>&1)
echo "wall: $(( $(date +%s) - start )) s ($(nproc) cores), commit $(git rev-parse --short HEAD)"
python3 - "$work/target/cargo-timings/cargo-timing.html" <<'PY'
import json, re, sys
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", open(sys.argv[1]).read(), re.S).group(1))
print(f"units: {len(units)}, CPU seconds in all: {sum(u['duration'] for u in units):.0f}")
for u in sorted(units, key=lambda u: -u["duration"])[:12]:
    print(f"{u['duration']:7.1f} s  {u['name']} {u['version']} {u.get('target', '').strip()}")
PY
echo "cargo's report: $work/target/cargo-timings/cargo-timing.html"
