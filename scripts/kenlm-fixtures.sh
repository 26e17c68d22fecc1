#!/usr/bin/env bash
# Regenerates tests/fixtures/kenlm/ by running KenLM itself (lmplz and query, built from the PyPI
# `kenlm` 0.3.0 source package by scripts/build-kenlm.sh) on real text:
#   - WikiText-2 (first 400 lines of valid for training, first 300 of test for querying)
#   - Moby-Dick (lines 1–700 for training, 701–900 for querying; untokenized, non-ASCII)
# Outputs: lmplz ARPA files (gzip) for orders 2–5, a pruned model, the discount-out-of-range
# case (lmplz's refusal and its --discount_fallback model), and query summaries with per-line
# totals as JSON. `make test` reads only these files; it never needs KenLM.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(scripts/build-kenlm.sh)
OUT=tests/fixtures/kenlm
mkdir -p "$OUT"
head -n 400 data/wikitext-2/valid.txt > "$OUT/wiki-train.txt"
head -n 300 data/wikitext-2/test.txt > "$OUT/wiki-query.txt"
MOBY=../shared/data/gutenberg/moby-dick.txt
sed -n '1,700p' "$MOBY" > "$OUT/moby-train.txt"
sed -n '701,900p' "$MOBY" > "$OUT/moby-query.txt"
printf 'the cat sat on the mat\nthe dog sat on the log\na cat and a dog\nthe cat\n' > "$OUT/tiny.txt"

lm() { "$BIN/lmplz" -S 512M -T /tmp --skip_symbols "$@" 2>/dev/null; }
for order in 2 3 4 5; do
  lm -o "$order" < "$OUT/wiki-train.txt" | gzip -n -9 > "$OUT/wiki-$order.arpa.gz"
done
# On this Moby-Dick slice the closed-form 4- and 5-gram discounts fall out of range: lmplz
# refuses (recorded below) unless --discount_fallback is given.
for order in 2 3; do
  lm -o "$order" < "$OUT/moby-train.txt" | gzip -n -9 > "$OUT/moby-$order.arpa.gz"
done
for order in 4 5; do
  lm -o "$order" --discount_fallback < "$OUT/moby-train.txt" | gzip -n -9 > "$OUT/moby-$order.arpa.gz"
done
lm -o 4 --prune 0 1 1 < "$OUT/wiki-train.txt" | gzip -n -9 > "$OUT/wiki-4-prune011.arpa.gz"
lm -o 3 --discount_fallback < "$OUT/tiny.txt" | gzip -n -9 > "$OUT/tiny-3-fallback.arpa.gz"
set +e
"$BIN/lmplz" -S 512M -T /tmp -o 3 < "$OUT/tiny.txt" 2>&1 >/dev/null | grep -E "^(ERROR|Could not)" > "$OUT/tiny-3-refusal.txt"
"$BIN/lmplz" -S 512M -T /tmp -o 4 --skip_symbols < "$OUT/moby-train.txt" 2>&1 >/dev/null | grep -E "^(ERROR|Could not)" > "$OUT/moby-4-refusal.txt"
set -e

python3 - "$BIN/query" "$OUT" <<'PY'
import gzip, json, subprocess, sys, os
query, out = sys.argv[1], sys.argv[2]
results = {}
for corpus in ("wiki", "moby"):
    for name in [f"{corpus}-{o}" for o in (2, 3, 4, 5)] + (["wiki-4-prune011"] if corpus == "wiki" else []):
        arpa = os.path.join("/tmp", name + ".arpa")
        with open(arpa, "wb") as f:
            f.write(gzip.open(os.path.join(out, name + ".arpa.gz")).read())
        text = open(os.path.join(out, f"{corpus}-query.txt"), "rb").read()
        p = subprocess.run([query, "-v", "summary", "-v", "sentence", arpa], input=text, capture_output=True, check=True)
        lines = p.stdout.decode().splitlines()
        totals = [float(l.split()[1]) for l in lines if l.startswith("Total:")]
        summary = {k.strip(): v.strip() for k, v in (l.split(":", 1) for l in lines if not l.startswith("Total:") and ":" in l)}
        results[name] = {
            "query_text": f"{corpus}-query.txt",
            "line_totals_log10": totals,
            "perplexity_including_oov": float(summary["Perplexity including OOVs"]),
            "perplexity_excluding_oov": float(summary["Perplexity excluding OOVs"]),
            "oov": int(summary["OOVs"]),
            "tokens": int(summary["Tokens"]),
        }
        os.remove(arpa)
json.dump(results, open(os.path.join(out, "query.json"), "w"), indent=1, sort_keys=True)
PY
ls -la "$OUT"
