"""Writes SmolLM2-135M-Instruct at three other precisions from its Q4_1 GGUF, with gguf-py: the
files a quantization comparison (`type: kl-divergence`, and llama-perplexity --kl-divergence in
scripts/llama-cpp-fixtures.py) reads.

* SmolLM2-135M-Instruct.F16.gguf   the base: every matrix of the Q4_1 file dequantized and stored
                                   as f16 (Q4_1's values d*q + m fit f16 to within its rounding).
* SmolLM2-135M-Instruct.Q8_0.gguf  the base quantized to Q8_0 by gguf-py,
* SmolLM2-135M-Instruct.Q4_0.gguf  and to Q4_0, as llama-quantize would quantize an f16 file.

The only weights package registries ship are the Q4_1 file, so the "base" is the Q4_1 model's own
values; what Q8_0 and Q4_0 then lose against it is a real measurement of those two formats on
this model's weights. Metadata is copied, general.file_type set; 1-D tensors stay f32.

Run: python scripts/requantize-gguf.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf models/smollm2-requant
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import LlamaFileType as F
from gguf.quants import dequantize, quantize

TARGETS = [("F16", T.F16, F.MOSTLY_F16), ("Q8_0", T.Q8_0, F.MOSTLY_Q8_0), ("Q4_0", T.Q4_0, F.MOSTLY_Q4_0)]


def write(reader, arch, path, qtype, ftype, base):
    writer = gguf.GGUFWriter(path + ".partial", arch=arch)
    for field in reader.fields.values():
        if field.name in (gguf.Keys.General.ARCHITECTURE, gguf.Keys.General.FILE_TYPE) or field.name.startswith("GGUF."):
            continue
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), val_type, sub_type=sub_type)
    writer.add_file_type(int(ftype))
    for tensor in reader.tensors:
        if tensor.name not in base:
            writer.add_tensor(tensor.name, np.array(tensor.data), raw_dtype=tensor.tensor_type)
        elif qtype == T.F16:
            writer.add_tensor(tensor.name, base[tensor.name])
        else:
            writer.add_tensor(tensor.name, quantize(base[tensor.name].astype(np.float32), qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(path + ".partial", path)


def main():
    source, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    reader = gguf.GGUFReader(source)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    stem = os.path.basename(source).rsplit(".", 2)[0]
    # The matrices, dequantized once and rounded to f16: the base every other file derives from.
    base = {t.name: dequantize(t.data, t.tensor_type).astype(np.float16)
            for t in reader.tensors if len(t.shape) == 2 and t.tensor_type not in (T.F32,)}
    for name, qtype, ftype in TARGETS:
        path = os.path.join(out, f"{stem}.{name}.gguf")
        if not os.path.exists(path):
            write(reader, arch, path, qtype, ftype, base)
            print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
