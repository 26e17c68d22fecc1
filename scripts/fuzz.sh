#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (libfuzzer-sys) of the ARPA parser (target `arpa`), the
# text metrics and JSONL reader (`text_metrics`), the GGUF reader, dequantizer, Llama config and
# tokenizer (`gguf`, seeded with the quantized-block fixtures), the suite loader (`suite`), HF
# config.json against a safetensors header (`hf_config`), run records and baselines
# (`run_records`), corpus-level chrF/ROUGE with resampling (`corpus_metrics`), binary n-gram files
# edited behind a valid checksum (`ngram_binary`), GGUF keys of every type and value through the
# decoder configurations and tokenizers (`gguf_keys`) and gzip/JSONL datasets through the bounded
# line reader (`gzip_lines`). The targets are built the way
# cargo-fuzz builds them with `--sanitizer none` (SanitizerCoverage, debug assertions and overflow
# checks on), so a panic, an arithmetic overflow, an allocation over -malloc_limit_mb or a slow
# input is a finding; cargo-fuzz itself is not needed. A nightly toolchain is used when rustup has
# one, else the stable one with RUSTC_BOOTSTRAP=1. The fuzz crate depends on lmgauge without the
# `torch` feature: the parsers are plain Rust. FUZZ_SECONDS (default 60) bounds each target; the
# grown corpora stay in fuzz/corpus (git-ignored) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(arpa text_metrics gguf suite hf_config run_records corpus_metrics ngram_binary gguf_keys gzip_lines)
for t in "${targets[@]}"; do mkdir -p "fuzz/corpus/$t"; done
cp tests/fixtures/kenlm/test.arpa fuzz/corpus/arpa/ 2>/dev/null || true
zcat tests/fixtures/kenlm/tiny-3-fallback.arpa.gz > fuzz/corpus/arpa/tiny.arpa
head -c 4000 data/wmt17-en-de/newstest2017.ref.de > fuzz/corpus/text_metrics/wmt.txt
printf '{"text": "a b c"}\n{"text": ["x"]}\n' > fuzz/corpus/text_metrics/pairs.jsonl
cp tests/fixtures/gguf/*.gguf fuzz/corpus/gguf/
cp suites/*.yaml tests/hostile/cases/*/suite.yaml fuzz/corpus/suite/ 2>/dev/null || true
for d in tests/fixtures/neural/*/; do
  [[ -f "$d/model.safetensors" ]] && { cat "$d/config.json"; printf '\xff'; cat "$d/model.safetensors"; } > "fuzz/corpus/hf_config/$(basename "$d")"
done
b=baselines/quick.json
{ cat tests/hostile/cases/gate-a-killed-run/run/run.json; printf '\xff{}\xff'; cat "$b"; printf '\xff'; cat "${b%.json}.items.json.gz"; } > fuzz/corpus/run_records/quick
{ printf '\x05'; head -n 20 data/wmt17-en-de/newstest2017.online-B.0.hyp.de; printf '\xff'; head -n 20 data/wmt17-en-de/newstest2017.KIT.4950.hyp.de; } > fuzz/corpus/corpus_metrics/wmt
printf '\x30\x00\x00\x00\x04\x00\x00\x00\x3f' > fuzz/corpus/ngram_binary/edit
printf '\x04\x08\x05linear\x0e\x05\x04\xfe\xff\xff\xff' > fuzz/corpus/gguf_keys/keys
cp data/blimp/adjunct_island.jsonl.gz fuzz/corpus/gzip_lines/ 2>/dev/null || true
printf '{"context": "a", "subject": 1}\n\n{"context": null}\n' | gzip -n > fuzz/corpus/gzip_lines/small.jsonl.gz
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then toolchain=(+nightly); else export RUSTC_BOOTSTRAP=1; fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
target=x86_64-unknown-linux-gnu
(cd fuzz && cargo "${toolchain[@]}" build --release --target "$target" --bins)
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${FUZZ_SECONDS:-60} s"
  fuzz/target/$target/release/$t "fuzz/corpus/$t" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -print_final_stats=1 -artifact_prefix=fuzz/
done
