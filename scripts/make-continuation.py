"""Writes data/wikitext-2/continuation-test.jsonl: sentence continuation items from WikiText-2 test
for the quick suite's generation task. For each paragraph (not a heading) with at least three
sentences, in file order: `prompt` = its first two sentences, `reference` = the third without its
final " ." (generation stops before a period). Sentences end at " . " as WikiText tokenizes
them. The first 40 such paragraphs whose third sentence has 6 to 40 words are kept.

Run: python3 scripts/make-continuation.py   (standard library only; deterministic)
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "data", "wikitext-2", "test.txt")
OUT = os.path.join(ROOT, "data", "wikitext-2", "continuation-test.jsonl")


def main():
    items = []
    with open(SRC, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("="):
                continue
            parts = [p.strip() for p in (" " + text + " ").split(" . ") if p.strip()]
            if len(parts) < 4:  # three sentences and a rest
                continue
            third = parts[2]
            if not 6 <= len(third.split()) <= 40:
                continue
            items.append({"id": f"test.txt:{n}", "prompt": f"{parts[0]} . {parts[1]} .", "reference": third})
            if len(items) == 40:
                break
    with open(OUT, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(f"{len(items)} items -> {OUT}")


if __name__ == "__main__":
    main()
