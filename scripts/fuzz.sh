#!/usr/bin/env bash
# Coverage-guided fuzzing of the ARPA parser with cargo-fuzz (libFuzzer). The machine has only a
# stable toolchain; RUSTC_BOOTSTRAP=1 lets it accept the sanitizer flags cargo-fuzz passes.
# FUZZ_SECONDS (default 60) bounds the run. Seeds: the ARPA fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/arpa
cp tests/fixtures/kenlm/test.arpa fuzz/corpus/arpa/ 2>/dev/null || true
zcat tests/fixtures/kenlm/tiny-3-fallback.arpa.gz > fuzz/corpus/arpa/tiny.arpa
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run arpa corpus/arpa -- -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048
