#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer): the ARPA parser (target `arpa`) and the
# text metrics and JSONL reader (target `text_metrics`) and the GGUF reader and dequantizer (target
# `gguf`, seeded with the quantized-block fixtures). The machine has only a
# stable toolchain; RUSTC_BOOTSTRAP=1 lets it accept the sanitizer flags cargo-fuzz passes.
# FUZZ_SECONDS (default 60) bounds the run. Seeds: the ARPA fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/arpa
cp tests/fixtures/kenlm/test.arpa fuzz/corpus/arpa/ 2>/dev/null || true
zcat tests/fixtures/kenlm/tiny-3-fallback.arpa.gz > fuzz/corpus/arpa/tiny.arpa
mkdir -p fuzz/corpus/text_metrics
head -c 4000 data/wmt17-en-de/newstest2017.ref.de > fuzz/corpus/text_metrics/wmt.txt
printf '{"text": "a b c"}\n{"text": ["x"]}\n' > fuzz/corpus/text_metrics/pairs.jsonl
mkdir -p fuzz/corpus/gguf
cp tests/fixtures/gguf/blocks.gguf fuzz/corpus/gguf/
cd fuzz
for target in arpa text_metrics gguf; do
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048
done
