"""Writes tests/fixtures/tokenizers/: GGUF vocabularies of each tokenizer kind lmgauge rebuilds
from a GGUF file, and the token ids llama.cpp's own `llama-tokenize` gives for a multilingual
text (whitespace runs, tabs, CRLF, digits, emoji, scripts the vocabularies never saw).

  spm.gguf            SentencePiece BPE (`tokenizer.ggml.model = llama`, Llama 2 / Mistral
                      style: space prefix, byte fallback), trained here by `sentencepiece` on
                      Moby-Dick with user-defined tokens (whitespace runs, HTML tags, as Gemma's)
  spm-no-prefix.gguf  the same vocabulary with `add_space_prefix = false` (Gemma's setting)
  bpe-gpt-2.gguf      byte-level BPE, `tokenizer.ggml.pre = gpt-2`
  bpe-llama-bpe.gguf  byte-level BPE with Llama 3's pre-tokenizer (`llama-bpe`, ignore_merges)
  bpe-qwen2.gguf      byte-level BPE with Qwen2's pre-tokenizer (`qwen2`, one digit per piece)
  expected.json       per file: add_bos, and per text llama.cpp's ids and the reference
                      library's ids (`sentencepiece` / `tokenizers` with the model's own
                      tokenizer.json settings) with whether the two agree

The byte-level BPEs are trained here by `tokenizers` with the pre-tokenizer of the model family's
own tokenizer.json. GGUF files are written by gguf-py as convert_hf_to_gguf.py writes them (token
types from the SentencePiece model proto; control tokens for the BPE specials), with just enough
`llama.*` keys for llama.cpp to load the vocabulary (`vocab_only`).

With `--hf` (transformers 4.46.3 on PYTHONPATH, e.g. .tools/transformers-4.46) it also writes
Hugging Face tokenizer folders of the kinds SentencePiece models ship as tokenizer.json, made by
transformers' own slow-to-fast converters from the SentencePiece model trained here:
hf-llama/ (LlamaTokenizerFast: byte-fallback BPE, Metaspace pre-tokenizer, BOS added) and
hf-gemma/ (GemmaTokenizerFast: byte-fallback BPE, spaces replaced by the normalizer, no prefix),
and hf.json: the ids `tokenizer(text, add_special_tokens=False)` gives for each text — what
lm-evaluation-harness feeds a model.

With `--gemma3 models/gemma3/gemma-3-270m-q4_k_m.gguf` it also writes gemma3.json: llama.cpp's
ids for the same texts on Gemma 3's real 262k SentencePiece vocabulary (the file is not committed).

Run: .tools/venv/bin/python scripts/gguf-tokenizer-fixtures.py [--gemma3 FILE]
     (needs sentencepiece==0.2.0, tokenizers==0.20.3, gguf==0.19.0, protobuf, and
      .tools/llama.cpp/bin/llama-tokenize from scripts/build-llama-cpp.sh)
"""
import argparse
import json
import os
import subprocess
import tempfile

import gguf
import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_model
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
LLAMA_TOKENIZE = os.path.join(ROOT, ".tools", "llama.cpp", "bin", "llama-tokenize")
MOBY = os.path.join(ROOT, "..", "shared", "data", "gutenberg", "moby-dick.txt")

TEXTS = [
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money...",
    "It's 2026-12-04; we've got 1234567 tokens, 3.14159 and 1,000,000 (007). They'LL say I'd DON'T.",
    "  two leading spaces,   three inside,\ttab\t\tand trailing   ",
    "lines\nand\n\nblank lines\r\nwith CRLF\r\n\r\n   \n  indented\n\tcode",
    "Ünïcödé: naïve café, Straße; Ελληνικά κείμενα; Русский текст; עברית; العربية ١٢٣",
    "日本語のテキストと中文分词，한국어 문장도 있다。",
    "emoji 🙂👍🏽 🏳️‍🌈 family 👨‍👩‍👧 and symbols ∑∞ → ≠ ½ ™",
    'code: fn main() { println!("{}", x + 42); }    // comment\n    return;',
    "<b>bold</b> <i>not a user token</i>\n\n\n    after blank lines",
    "a",
    " ",
    "",
    "\n",
    "           ",
    "ﬁ ligature, combining e\u0301, zero\u200bwidth, nbsp\u00a0here",
    "Hmmmmm... zzzzz ---------- ...... eeeee oooooooh!!!!! 0000000 ssssss tttt lllllll",
]

SPM_USER_DEFINED = ["\n\n", "\n\n\n", "  ", "    ", "<b>", "</b>"]

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def corpus():
    text = open(MOBY, encoding="utf-8").read()
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[:6000]


def writer(path, name):
    """A GGUF with the `llama.*` keys llama.cpp reads before it looks at the vocabulary."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    w.add_context_length(64)
    w.add_embedding_length(16)
    w.add_block_count(1)
    w.add_feed_forward_length(32)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    return w


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_tokenize(path, text, add_bos):
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(text.encode("utf-8"))
    try:
        args = [LLAMA_TOKENIZE, "-m", path, "-f", f.name, "--ids", "--no-escape", "--no-parse-special", "--log-disable"]
        if not add_bos:
            args.append("--no-bos")
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out.strip().splitlines()[-1])


def sentencepiece_files(work):
    prefix = os.path.join(work, "spm")
    global SPM_MODEL
    SPM_MODEL = prefix + ".model"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=1000,
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        user_defined_symbols=SPM_USER_DEFINED,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    proto = spm_model.ModelProto()
    proto.ParseFromString(open(prefix + ".model", "rb").read())
    tokens = [p.piece for p in proto.pieces]
    scores = [p.score for p in proto.pieces]
    types = [int(p.type) for p in proto.pieces]  # NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6
    proc = spm.SentencePieceProcessor(model_file=prefix + ".model")
    files = {}
    for name, space_prefix in [("spm.gguf", True), ("spm-no-prefix.gguf", False)]:
        path = os.path.join(OUT, name)
        w = writer(path, f"lmgauge SentencePiece vocabulary ({name})")
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_unk_token_id(0)
        w.add_add_bos_token(True)
        w.add_add_space_prefix(space_prefix)
        finish(w)
        files[name] = (path, True, lambda t, p=space_prefix: reference_spm(proc, t, p))
    return files


def reference_spm(proc, text, space_prefix):
    """sentencepiece's ids (BOS first); without the space prefix, the text is encoded with a
    space in front and the leading `▁` it becomes taken off, as Gemma's tokenizer does."""
    if space_prefix:
        return [1] + proc.encode(text)
    return None


def numbers_and_code():
    """Training lines with digit runs and indented code, so the shared vocabulary has multi-digit
    and whitespace-run tokens whose use depends on the pre-tokenizer."""
    rng = np.random.default_rng(20261204)
    lines = []
    for _ in range(3000):
        a, b, c = (int(x) for x in rng.integers(0, 10 ** rng.integers(1, 8, 3)))
        lines.append(f"In {a} there were {b:,} whales and {c} ships, {a % 97}.{b % 1000:03d} per cent")
        lines.append(" " * int(rng.integers(1, 9)) + f"x{c % 50} = f(y, {b % 1000})  # note {a % 10}")
    return lines


def with_pre(vocab, merges, pre, specials):
    """A `tokenizers` byte-level BPE over one shared vocabulary with the pre-tokenizer of the
    family's own tokenizer.json (and Llama 3's ignore_merges)."""
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=pre == "llama-bpe"))
    if pre == "gpt-2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pattern = LLAMA3_PATTERN if pre == "llama-bpe" else QWEN2_PATTERN
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials)
    return tok


def bpe_files():
    """One byte-level BPE vocabulary, trained on Moby-Dick, digit runs and indented code with
    GPT-2's pre-tokenizer, written three times with the three `pre` values: the same vocabulary
    tokenizes differently under each, so each pre-tokenizer is tested. Whole-word tokens that no
    merge sequence reaches are appended, which only Llama 3's ignore_merges emits."""
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=1500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trainer_tok.train_from_iterator(corpus() + numbers_and_code(), trainer)
    data = json.loads(trainer_tok.to_str())
    vocab = dict(data["model"]["vocab"])
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
    for word in ["\u0120precisely", "\u0120tokens", "\u0120comment"]:
        if word not in vocab:
            vocab[word] = len(vocab)
    tokens = [None] * len(vocab)
    for token, i in vocab.items():
        tokens[i] = token
    special_ids = [vocab[s] for s in specials]
    types = [3 if i in special_ids else 1 for i in range(len(tokens))]
    files = {}
    for pre in ["gpt-2", "llama-bpe", "qwen2"]:
        tok = with_pre(vocab, merges, pre, specials)
        name = f"bpe-{pre}.gguf"
        path = os.path.join(OUT, name)
        w = writer(path, f"lmgauge byte-level BPE vocabulary ({pre})")
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges([f"{a} {b}" for a, b in merges])
        w.add_bos_token_id(special_ids[0])
        w.add_eos_token_id(special_ids[1])
        # The families' own settings: Llama 3 adds <|begin_of_text|>, GPT-2 and Qwen2 add nothing.
        add_bos = pre == "llama-bpe"
        w.add_add_bos_token(add_bos)
        finish(w)
        bos = special_ids[0]
        files[name] = (path, add_bos, lambda t, tok=tok, a=add_bos, b=bos: ([b] if a else []) + tok.encode(t).ids)
    return files


SPM_MODEL = None


def hf_folders():
    """LlamaTokenizerFast and GemmaTokenizerFast converted from the trained SentencePiece model
    by transformers itself, saved as the folders a checkpoint would carry."""
    import transformers
    from transformers import GemmaTokenizerFast, LlamaTokenizerFast
    assert transformers.__version__ == "4.46.3", transformers.__version__
    out = {"transformers": transformers.__version__, "texts": TEXTS, "folders": {}}
    for name, cls in [("hf-llama", LlamaTokenizerFast), ("hf-gemma", GemmaTokenizerFast)]:
        folder = os.path.join(OUT, name)
        tok = cls(vocab_file=SPM_MODEL, from_slow=True, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
        tok.save_pretrained(folder)
        for extra in ("tokenizer.model",):
            path = os.path.join(folder, extra)
            if os.path.exists(path):
                os.remove(path)
        tok = cls.from_pretrained(folder)
        out["folders"][name] = {"ids": [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS],
                                "bos": tok.bos_token_id, "add_bos": bool(getattr(tok, "add_bos_token", False))}
    with open(os.path.join(OUT, "hf.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("hf.json:", list(out["folders"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", action="store_true", help="also write the Hugging Face tokenizer folders and hf.json")
    ap.add_argument("--gemma3", help="Gemma 3 270M GGUF (models/gemma3) for gemma3.json")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    expected = {"texts": TEXTS, "reference": "llama-tokenize from llama.cpp vendored in llama-cpp-python 0.3.36 "
                "(--no-parse-special --no-escape)", "files": {}}
    with tempfile.TemporaryDirectory() as work:
        files = {**sentencepiece_files(work), **bpe_files()}
        for name, (path, add_bos, reference) in files.items():
            ids, library, agrees = [], [], []
            for text in TEXTS:
                ours = llama_tokenize(path, text, add_bos)
                ref = reference(text)
                ids.append(ours)
                library.append(ref)
                agrees.append(None if ref is None else ref == ours)
            expected["files"][name] = {"add_bos": add_bos, "ids": ids, "library": library, "library_agrees": agrees}
            print(f"{name}: {os.path.getsize(path)} bytes; library agrees on "
                  f"{sum(a is True for a in agrees)}/{sum(a is not None for a in agrees)} texts")
        if args.hf:
            hf_folders()
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if args.gemma3:
        ids = [llama_tokenize(args.gemma3, text, True) for text in TEXTS]
        with open(os.path.join(OUT, "gemma3.json"), "w", encoding="utf-8") as f:
            json.dump({"texts": TEXTS, "reference": expected["reference"], "add_bos": True, "ids": ids}, f,
                      ensure_ascii=False, indent=1)
            f.write("\n")
        print("gemma3.json:", sum(map(len, ids)), "tokens")


if __name__ == "__main__":
    main()
