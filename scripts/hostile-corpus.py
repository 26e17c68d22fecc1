"""Writes tests/hostile/: inputs a careless or hostile user gives lmgauge, one folder per case,
and tests/hostile/cases.json, which says for each case the command to run (inside its folder), the
exit code it must end with and the words its error must contain (file, line, field). The
integration test `hostile` runs every case through the binary (make test).

The classes follow issue #16: wrong numbers (1), crashes (2), unbounded memory (3) and unclear
errors (4). Cases that need the real run machinery (gates, resume, key collisions, CRLF parity)
or large inputs made at test time live in tests/integration/hostile.rs itself.

Plain Python 3, standard library only; inputs derive from the committed fixtures.

Run: python3 scripts/hostile-corpus.py
"""
import gzip
import json
import math
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "hostile")
CASES = []

TEXT = "the quick brown fox jumps over the lazy dog\nit was the best of times\n"


def case(name, klass, argv, exit_code, expect, files=None, copies=None, neural=False):
    """One case: `files` maps names to bytes or str, `copies` names to fixture paths."""
    d = os.path.join(OUT, "cases", name)
    os.makedirs(d, exist_ok=True)
    for rel, data in (files or {}).items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    for rel, src in (copies or {}).items():
        # Relative links to the fixtures keep the corpus small.
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(FIX, src), os.path.dirname(p)), p)
    CASES.append({"name": name, "class": klass, "argv": argv, "exit": exit_code, "expect": expect, "neural": neural})


# --- GGUF: a minimal reader/writer of the header, enough to edit one value or tensor -------------

def gguf_layout(b):
    """(metadata {key: (type, value offset, value length)}, tensors {name: (type, data offset, bytes)})."""
    pos = 4 + 4
    n_tensors, n_kv = struct.unpack_from("<QQ", b, pos)
    pos += 16

    def string(pos):
        (n,) = struct.unpack_from("<Q", b, pos)
        return b[pos + 8:pos + 8 + n].decode(), pos + 8 + n

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip(ty, pos):
        if ty in sizes:
            return pos + sizes[ty]
        if ty == 8:
            return string(pos)[1]
        (item, count) = struct.unpack_from("<IQ", b, pos)
        pos += 12
        for _ in range(count):
            pos = skip(item, pos)
        return pos

    meta = {}
    for _ in range(n_kv):
        key, pos = string(pos)
        (ty,) = struct.unpack_from("<I", b, pos)
        end = skip(ty, pos + 4)
        meta[key] = (ty, pos + 4, end - pos - 4)
        pos = end
    infos = []
    for _ in range(n_tensors):
        name, pos = string(pos)
        (nd,) = struct.unpack_from("<I", b, pos)
        dims = struct.unpack_from("<%dQ" % nd, b, pos + 4)
        ty, off = struct.unpack_from("<IQ", b, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        infos.append((name, dims, ty, off))
    align = 32
    data = (pos + align - 1) // align * align
    tensors = {}
    for name, dims, ty, off in infos:
        n = math.prod(dims)
        tensors[name] = (ty, data + off, n * {0: 4, 1: 2}[ty] if ty in (0, 1) else None)
    return meta, tensors


def tiny_llama(edit):
    b = bytearray(open(os.path.join(FIX, "gguf", "tiny-llama.gguf"), "rb").read())
    edit(b, *gguf_layout(bytes(b)))
    return bytes(b)


# GGUF value types lmgauge's cases edit, with their struct formats.
SCALAR_FORMATS = {4: "<I", 6: "<f"}


def set_value(key, value):
    """Overwrites a scalar metadata value in place, in the type the file stores it as."""
    def edit(b, meta, _):
        ty, off, _ = meta[key]
        struct.pack_into(SCALAR_FORMATS[ty], b, off, value)
    return edit


def nan_tensor(name):
    def edit(b, _, tensors):
        ty, off, n = tensors[name]
        fill = struct.pack("<f", float("nan")) if ty == 0 else struct.pack("<e", float("nan"))
        b[off:off + n] = fill * (n // len(fill))
    return edit


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    ppl = ["perplexity", "--model", "model.gguf", "--input", "text.txt"]

    # 1. Wrong numbers with exit 0 --------------------------------------------------------------
    case("gguf-nan-rms-epsilon", 1, ppl, 2, ["model.gguf", "rms_norm_eps is NaN"],
         files={"model.gguf": tiny_llama(set_value("llama.attention.layer_norm_rms_epsilon", float("nan"))), "text.txt": TEXT}, neural=True)
    case("gguf-nan-weights", 1, ppl, 2, ["non-finite log-probability", "text.txt:1", "token 0"],
         files={"model.gguf": tiny_llama(nan_tensor("token_embd.weight")), "text.txt": TEXT}, neural=True)
    gpt2 = {"model/model.safetensors": "neural/gpt2-safetensors/model.safetensors", "model/tokenizer.json": "neural/gpt2-safetensors/tokenizer.json"}
    config = json.load(open(os.path.join(FIX, "neural", "gpt2-safetensors", "config.json")))
    hf_ppl = ["perplexity", "--model", "model", "--input", "text.txt"]
    for name, edits, words in [
        ("hf-n-layer-negative", {"n_layer": -2}, ["config.json", "\"n_layer\" is -2"]),
        ("hf-n-layer-smaller", {"n_layer": 1}, ["config.json", "\"n_layer\" is 1 but the checkpoint stores 2 layers"]),
        ("hf-n-layer-huge", {"n_layer": 1 << 20}, ["config.json", "\"n_layer\" is 1048576"]),
        ("hf-hidden-absurd", {"n_embd": 1 << 40}, ["config.json", "\"n_embd\" is 1099511627776"]),
        ("hf-positions-absurd", {"n_positions": 1 << 33}, ["config.json", "\"n_positions\""]),
        ("hf-heads-string", {"n_head": "four"}, ["config.json", "\"n_head\" is \"four\""]),
    ]:
        c = dict(config, **edits)
        case(name, 1 if "layer" in name and "huge" not in name else 2, hf_ppl, 2, words,
             files={"model/config.json": json.dumps(c, indent=1), "text.txt": TEXT}, copies=gpt2, neural=True)

    arpa = gzip.decompress(open(os.path.join(FIX, "kenlm", "moby-2.arpa.gz"), "rb").read()).decode()
    lines = arpa.split("\n")
    the = next(i for i, l in enumerate(lines) if l.endswith("\tthe\t") or "\tthe\t" in l)
    for name, value, words in [
        ("arpa-minus-inf", "-inf", ["model.arpa.gz:%d" % (the + 1), "-infinity"]),
        ("arpa-beyond-f32", "-1e400", ["model.arpa.gz:%d" % (the + 1), "-infinity"]),
        ("arpa-positive-log-probability", "0.5", ["model.arpa.gz:%d" % (the + 1), "positive log10 probability"]),
    ]:
        edited = list(lines)
        edited[the] = value + "\t" + edited[the].split("\t", 1)[1]
        case(name, 1, ["perplexity", "--model", "model.arpa.gz", "--input", "text.txt"], 2, words,
             files={"model.arpa.gz": gzip.compress("\n".join(edited).encode(), mtime=0), "text.txt": TEXT})
    edited = list(lines)
    edited[the] = edited[the].rsplit("\t", 1)[0] + "\tnan"
    case("arpa-nan-backoff", 1, ["ngram", "query", "--arpa", "model.arpa.gz", "--input", "text.txt"], 2, ["model.arpa.gz:%d" % (the + 1), "backoff"],
         files={"model.arpa.gz": gzip.compress("\n".join(edited).encode(), mtime=0), "text.txt": TEXT})

    # 2. Crashes ------------------------------------------------------------------------------
    case("chrf-empty-files", 2, ["chrf", "-r", "ref.txt", "-i", "hyp.txt"], 2, ["ref.txt is empty"], files={"ref.txt": "", "hyp.txt": ""})
    case("bleu-empty-files", 2, ["bleu", "-r", "ref.txt", "-i", "hyp.txt"], 2, ["ref.txt is empty"], files={"ref.txt": "", "hyp.txt": ""})
    case("rouge-zero-bootstrap", 2, ["rouge", "-r", "ref.txt", "-i", "hyp.txt", "--bootstrap", "0"], 2, ["--bootstrap", "0"],
         files={"ref.txt": "a b c\n", "hyp.txt": "a b\n"})
    case("chrf-char-order-huge", 2, ["chrf", "-r", "ref.txt", "-i", "hyp.txt", "--char-order", "1000000"], 2, ["--char-order"],
         files={"ref.txt": "a b c\n", "hyp.txt": "a b\n"})
    case("bleu-smooth-value-nan", 2, ["bleu", "-r", "ref.txt", "-i", "hyp.txt", "--smooth", "floor", "--smooth-value", "nan"], 2, ["--smooth-value", "finite"],
         files={"ref.txt": "a b c\n", "hyp.txt": "a b\n"})
    case("generate-max-new-tokens-huge", 2, ["generate", "--model", "model.arpa.gz", "--prompt", "the", "--max-new-tokens", "100000000"], 2,
         ["max_new_tokens must be between 1 and 65536"], copies={"model.arpa.gz": "kenlm/moby-2.arpa.gz"})
    case("generate-temperature-nan", 2, ["generate", "--model", "model.arpa.gz", "--prompt", "the", "--strategy", "sample", "--temperature", "nan"], 2,
         ["temperature must be positive"], copies={"model.arpa.gz": "kenlm/moby-2.arpa.gz"})
    case("perplexity-batch-tokens-huge", 2, ["perplexity", "--model", "model", "--input", "text.txt", "--batch-tokens", "99999999999"], 2,
         ["batch_tokens must be between 1 and 4194304"], files={"text.txt": TEXT}, copies=dict(gpt2, **{"model/config.json": "neural/gpt2-safetensors/config.json"}), neural=True)
    long_ref = " ".join("w%d" % (i % 997) for i in range(20000)) + "\n"
    long_hyp = " ".join("w%d" % ((i * 7) % 991) for i in range(20000)) + "\n"
    case("rouge-l-one-long-line", 2, ["rouge", "-r", "ref.txt", "-i", "hyp.txt", "--bootstrap", "10", "--json"], 0, ["\"rougeL\"", "\"rougeLsum\""],
         files={"ref.txt": long_ref, "hyp.txt": long_hyp})
    run = {"version": 1, "run_id": "r", "suite": "s", "suite_file": "s.yaml", "suite_hash": "abc\u00e9", "seed": 0,
           "bootstrap_resamples": 10, "status": "complete", "tool_version": "0", "dependencies": [], "git_commit": None,
           "host": {"hostname": "h", "os": "linux", "arch": "x86_64", "cpus": 1}, "started_unix": 0, "only_tasks": [],
           "only_models": [], "models": [], "tasks": [], "jobs": []}
    case("run-record-short-hash", 2, ["report", "run"], 2, ["run.json", "suite_hash must be 64 hexadecimal digits"],
         files={"run/run.json": json.dumps(run)})
    suite = "version: 1\nname: s\n{extra}models:\n  - id: kn\n    kind: ngram\n    train: train.txt\n    order: {order}\ntasks:\n  - id: t\n    type: perplexity\n    dataset: {{path: {data}}}\n    models: [kn]\n    metrics: [bits_per_byte]\n"
    files = {"train.txt": TEXT, "text.txt": TEXT}
    case("suite-order-million", 2, ["validate", "suite.yaml"], 2, ["suite.yaml:7:", "`order` must be between 1 and 64"],
         files=dict(files, **{"suite.yaml": suite.format(extra="", order=1000000, data="text.txt")}))
    case("suite-bootstrap-1e12", 2, ["validate", "suite.yaml"], 2, ["suite.yaml:3:", "bootstrap must be between 1 and 1000000"],
         files=dict(files, **{"suite.yaml": suite.format(extra="bootstrap: 1000000000000\n", order=3, data="text.txt")}))
    case("suite-batch-tokens-huge", 2, ["validate", "suite.yaml"], 2, ["suite.yaml", "batch_tokens` must be between 1 and"],
         files={"suite.yaml": "version: 1\nname: s\nmodels:\n  - {id: g, kind: causal, path: model, batch_tokens: 99999999999}\ntasks:\n  - {id: t, type: perplexity, dataset: {path: text.txt}, models: [g], metrics: [bits_per_byte]}\n",
                "text.txt": TEXT}, copies=dict(gpt2, **{"model/config.json": "neural/gpt2-safetensors/config.json"}), neural=True)

    # 3. Unbounded memory ---------------------------------------------------------------------
    # One anchored task repeated by alias: linear in the file, each alias a whole task once expanded.
    bomb = ("version: 1\nname: s\nmodels:\n  - {id: kn, kind: ngram, train: train.txt, order: 3}\ntasks:\n"
            "  - &t {id: t, type: perplexity, dataset: {path: text.txt, limit: 5}, models: [kn, kn, kn, kn], metrics: [bits_per_byte, word_perplexity, byte_perplexity]}\n")
    bomb += "  - *t\n" * 16000
    case("suite-yaml-alias-bomb", 3, ["validate", "suite.yaml"], 2, ["suite.yaml:", "through YAML aliases"], files=dict(files, **{"suite.yaml": bomb}))

    # 4. Unclear errors -----------------------------------------------------------------------
    case("dataset-is-a-directory", 4, ["validate", "suite.yaml"], 2, ["suite.yaml:11:", "is a directory, not a file"],
         files=dict(files, **{"suite.yaml": suite.format(extra="", order=3, data="data"), "data/keep.txt": "x\n"}))
    several = ("version: 1\nname: s\nbogus: 1\nmodels:\n  - id: kn\n    kind: ngram\n    train: train.txt\n    order: three\n"
               "  - id: kn2\n    kind: ngram\n    arpa: m.arpa\n    colour: red\n    size: 3\ntasks:\n  - id: t\n    type: perplexity\n"
               "    dataset: {path: text.txt, limit: many}\n    models: [kn]\n    metrics: [bits_per_byte]\n")
    case("suite-several-type-errors", 4, ["validate", "suite.yaml"], 2,
         ["suite.yaml:3:", "bogus", "suite.yaml:8:", "models[0].order", "suite.yaml:12:", "colour", "suite.yaml:13:", "size", "suite.yaml:17:", "tasks[0].dataset.limit"],
         files=dict(files, **{"suite.yaml": several}))
    case("csv-ragged-row", 4, ["perplexity", "--model", "model.arpa.gz", "--input", "data.csv"], 2, ["data.csv:4: 3 fields, but the header has 2"],
         files={"data.csv": "text,id\n\"the cat, it sat\",1\non the mat,2\nit was,3,oops\n"}, copies={"model.arpa.gz": "kenlm/moby-2.arpa.gz"})
    case("gguf-shorter-than-magic", 4, ppl, 2, ["model.gguf", "not a GGUF file", "3 bytes"], files={"model.gguf": b"GGU", "text.txt": TEXT})
    case("gguf-zero-heads", 4, ppl, 2, ["model.gguf", "llama.attention.head_count is 0"],
         files={"model.gguf": tiny_llama(set_value("llama.attention.head_count", 0)), "text.txt": TEXT}, neural=True)
    case("config-json-array", 4, hf_ppl, 2, ["config.json", "is not a JSON object"],
         files={"model/config.json": "[1, 2]", "text.txt": TEXT}, copies=gpt2)
    case("rouge-empty-files", 4, ["rouge", "-r", "ref.txt", "-i", "hyp.txt", "--json"], 2, ["ref.txt is empty"], files={"ref.txt": "", "hyp.txt": ""})
    killed = dict(run, suite_hash="0" * 64, status="running")
    case("gate-a-killed-run", 4, ["gate", "run", "--baseline", "base.json"], 2, ["run did not finish", "--resume"],
         files={"run/run.json": json.dumps(killed), "base.json": "{}"})

    case("report-a-killed-run", 4, ["report", "run"], 2, ["run did not finish", "--resume"], files={"run/run.json": json.dumps(killed)})

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(CASES, f, indent=1)
        f.write("\n")
    print("%d cases in %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
