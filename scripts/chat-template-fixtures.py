"""Writes tests/fixtures/chat-templates/: conversations rendered by transformers 4.46.3's chat
template renderer (what `tokenizer.apply_chat_template(..., tokenize=False)` runs: its sandboxed
Jinja environment with `raise_exception`, `strftime_now` and `tojson`, given `messages`,
`add_generation_prompt` and the tokenizer's `bos_token`/`eos_token`), for lmgauge's renderer to
equal byte for byte:

- SmolLM2-135M-Instruct's own template, read from the GGUF's `tokenizer.chat_template` (the file
  is not copied here; the test reads it from models/);
- three templates written for these tests (templates/*.jinja), each exercising what Hugging Face
  templates rely on: Python string methods (strip, upper, replace, split, startswith, lstrip),
  slicing, `namespace`, `loop`, `break`, filters (trim, join, tojson), `raise_exception`.

Gemma 3 270M's GGUF carries no chat template, so it has no fixture (`chat: true` on it is an
error unless the suite gives `chat_template:`).

Run: .tools/venv/bin/python scripts/chat-template-fixtures.py    (transformers 4.46.3, gguf 0.19.0)
"""
import json
import os
import sys

import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template

assert transformers.__version__ == "4.46.3", transformers.__version__
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "chat-templates")
sys.path.insert(0, os.path.join(ROOT, ".tools", "gguf-py"))
import gguf  # noqa: E402

CONVERSATIONS = {
    "one-user-turn": [{"role": "user", "content": "What is the capital of France?"}],
    "system-and-user": [
        {"role": "system", "content": "  You are terse.  "},
        {"role": "user", "content": "Q: 2+2?"},
    ],
    "few-shot-multiturn": [
        {"role": "system", "content": "Answer with one word."},
        {"role": "user", "content": "Q: Opposite of hot?"},
        {"role": "assistant", "content": "cold"},
        {"role": "user", "content": "Q: Opposite of up?"},
    ],
    "unicode-and-braces": [
        {"role": "user", "content": "Ünïcödé 日本語 {{ not a tag }} {% neither %}\n  two lines \"quoted\" "},
    ],
    "stop-early": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "STOP"},
        {"role": "user", "content": "never shown by user-first.jinja"},
    ],
    "assistant-first": [
        {"role": "assistant", "content": "Hello there"},
        {"role": "user", "content": "Hi"},
    ],
}


def gguf_template(path):
    reader = gguf.GGUFReader(path)
    field = reader.fields["tokenizer.chat_template"]
    tokens = reader.fields["tokenizer.ggml.tokens"]
    token = lambda key: bytes(tokens.parts[tokens.data[int(reader.fields[key].parts[-1][0])]]).decode()
    return bytes(field.parts[field.data[0]]).decode(), token("tokenizer.ggml.bos_token_id"), token(
        "tokenizer.ggml.eos_token_id"
    )


def render(template, messages, add_generation_prompt, bos, eos):
    try:
        text = _compile_jinja_template(template).render(
            messages=messages,
            tools=None,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos,
            eos_token=eos,
        )
        return {"rendered": text}
    except Exception as e:  # raise_exception and template errors: the message lmgauge must show
        return {"error": str(e)}


templates = [("gguf:models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",) + gguf_template(
    os.path.join(ROOT, "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))]
for name in sorted(os.listdir(os.path.join(OUT, "templates"))):
    with open(os.path.join(OUT, "templates", name), encoding="utf-8") as f:
        templates.append((f"file:tests/fixtures/chat-templates/templates/{name}", f.read(), "<s>", "</s>"))

cases = []
for source, template, bos, eos in templates:
    for conversation, messages in CONVERSATIONS.items():
        for add_generation_prompt in (True, False):
            case = {
                "template": source,
                "conversation": conversation,
                "add_generation_prompt": add_generation_prompt,
                "bos_token": bos,
                "eos_token": eos,
            }
            case.update(render(template, messages, add_generation_prompt, bos, eos))
            cases.append(case)
with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
    json.dump({"tool": f"transformers {transformers.__version__}", "conversations": CONVERSATIONS, "cases": cases},
              f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"{len(cases)} cases")
