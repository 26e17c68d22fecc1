"""Writes tests/fixtures/human-agreement/moses-en.json: English lines (every 10th distinct text of
the WMT19 kk-en daRR file, plus hand-written edge cases) with sacremoses 0.0.43's
MosesTokenizer(lang="en").tokenize(line, return_str=True), for lmgauge's port to equal.

    python scripts/moses-fixture.py    (needs: pip install sacremoses==0.0.43)
"""
import gzip
import json
from importlib.metadata import version

from sacremoses import MosesTokenizer

assert version("sacremoses") == "0.0.43", version("sacremoses")
t = MosesTokenizer(lang="en")
texts = []
for line in gzip.open("data/human-judgments/wmt19-darr/kk-en.jsonl.gz", "rt", encoding="utf-8"):
    d = json.loads(line)
    for k in ("ref", "better", "worse"):
        if d[k] not in texts:
            texts.append(d[k])
lines = texts[::10] + [
    "It's 5,300... or 5.300.. no, 'quoted' text.'",
    "Dr. Smith vs. Mr. Jones: No. 5 and No. six, pp. 12-14 (e.g. this; i.e. that).",
    "Prices rose 3% in Jan. The U.S.A. said \"yes\" | [no] <maybe> & more...",
    "l'homme d'affaires, rock'n'roll, '90s, the 1990's, don't, can't, O'Neil",
    "   spaced\tout\u00a0text\u2003with   gaps   ",
    "Ellipsis.... and dots . . . and a final.'",
    "Қазақстан Республикасы, 2019 ж. — «цитата» и т.д.",
]
pairs = [{"text": s, "tokenized": t.tokenize(s, return_str=True)} for s in lines]
with open("tests/fixtures/human-agreement/moses-en.json", "w", encoding="utf-8") as f:
    json.dump({"tool": "sacremoses 0.0.43", "pairs": pairs}, f, ensure_ascii=False, indent=0)
    f.write("\n")
