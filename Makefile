# The README's contract: `make run` runs the embedded default suite, `make test` passes the tests.
CARGO ?= cargo
BIN := target/release/lmgauge
SUITE ?= suites/quick.yaml
OUT ?= reports

.PHONY: run test build bench fixtures fuzz validate gate baseline clean
SUITE_NAME = $(basename $(notdir $(SUITE)))
BASELINE ?= baselines/$(SUITE_NAME).json

build:
	$(CARGO) build --release --locked

run: build
	$(BIN) run-suite $(SUITE) --out $(OUT)

validate: build
	$(BIN) validate $(SUITE)

# Run the suite and gate it against its committed baseline (exit 1 on a regression).
gate: build
	$(BIN) run-suite $(SUITE) --out $(OUT) --gate $(BASELINE)

# Save the newest run of the suite as its baseline (commit the two files it writes).
baseline: build
	$(BIN) baseline save $(OUT)/$(SUITE_NAME)/latest --to $(BASELINE)

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
