# The README's contract: `make run` runs the embedded default suite, `make test` passes the tests.
CARGO ?= cargo
BIN := target/release/lmgauge
SUITE ?= suites/quick.yaml
OUT ?= reports

.PHONY: run test build bench fixtures fuzz validate clean

build:
	$(CARGO) build --release --locked

run: build
	$(BIN) run-suite $(SUITE) --out $(OUT)

validate: build
	$(BIN) validate $(SUITE)

test:
	$(CARGO) test --release --locked

# Side-by-side benchmarks against KenLM (built from PyPI's kenlm source package); writes
# docs/BENCHMARKS.md.
bench: build
	scripts/bench.sh

# Regenerates the parity fixtures by running KenLM, sacrebleu, rouge-score and NLTK.
fixtures:
	scripts/kenlm-fixtures.sh
	scripts/metric-fixtures.sh

# Coverage-guided fuzzing of the ARPA parser (cargo-fuzz; stable toolchain via RUSTC_BOOTSTRAP).
fuzz:
	scripts/fuzz.sh

clean:
	$(CARGO) clean
