"""Writes the multiple-choice datasets lmgauge ships (data/multiple-choice/), from data already in
the repository, deterministically (the same files on every run):

- blimp-one-prefix.jsonl: BLiMP's "one-prefix method" (Warstadt et al. 2020, sec. 4): for the 19
  phenomena whose pairs differ in one word after a shared prefix, the prefix is the context and
  the good and bad words are the two choices (gold position drawn at random); the first 15 pairs
  of each phenomenon, with UID and linguistics_term kept for grouping.
- wikitext-endings.jsonl: a HellaSwag-style cloze on WikiText-2 test: a sentence of 14-40 words
  cut after its first half is the context; its own second half and the second halves of three
  other sentences of similar length are the choices (shuffled).

Run: python3 scripts/multiple-choice-data.py
"""
import gzip
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "data", "multiple-choice")


def blimp_one_prefix(rng, per_phenomenon=15):
    folder = os.path.join(ROOT, "data", "blimp")
    out = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".jsonl.gz"):
            continue
        with gzip.open(os.path.join(folder, name), "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        if not records[0].get("one_prefix_method"):
            continue
        for r in records[:per_phenomenon]:
            choices = [r["one_prefix_word_good"], r["one_prefix_word_bad"]]
            gold = rng.randrange(2)
            if gold == 1:
                choices.reverse()
            out.append({"context": r["one_prefix_prefix"], "choices": choices, "gold": gold,
                        "UID": r["UID"], "linguistics_term": r["linguistics_term"]})
    return out


def wikitext_endings(rng, items=120):
    with open(os.path.join(ROOT, "data", "wikitext-2", "test.txt"), encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip() and not l.strip().startswith("=")]
    sentences = []
    for line in lines:
        for s in line.split(" . "):
            words = s.strip().split()
            if 14 <= len(words) <= 40 and "<unk>" not in words:
                sentences.append(words)
    cut = [(w[: len(w) // 2], w[len(w) // 2:]) for w in sentences]
    picked = rng.sample(range(len(cut)), items)
    out = []
    for i in picked:
        context, ending = cut[i]
        similar = [j for j in range(len(cut)) if j != i and abs(len(cut[j][1]) - len(ending)) <= 3]
        others = [" ".join(cut[j][1]) for j in rng.sample(similar, 3)]
        choices = others + [" ".join(ending)]
        rng.shuffle(choices)
        out.append({"context": " ".join(context), "choices": choices, "gold": choices.index(" ".join(ending))})
    return out


def write(name, records):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{name}: {len(records)} items")


if __name__ == "__main__":
    write("blimp-one-prefix.jsonl", blimp_one_prefix(random.Random(2026)))
    write("wikitext-endings.jsonl", wikitext_endings(random.Random(2027)))
