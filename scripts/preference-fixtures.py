"""Writes tests/fixtures/preference/judges.json: scores of three judges on 400 pairs (one with
many ties) and, computed here independently of lmgauge in plain Python, each judge's strict
accuracy, ties-as-half accuracy, tie rate, Wilson 95% interval, and the raw agreement and Cohen's
kappa of every two judges (the textbook definitions; sklearn's cohen_kappa_score gives the same).
"""
import itertools, json, math, random

rng = random.Random(20261129)
n = 400
judges = {
    "good": [(rng.gauss(1.0, 1.0), rng.gauss(0.0, 1.0)) for _ in range(n)],
    "weak": [(rng.gauss(0.2, 1.0), rng.gauss(0.0, 1.0)) for _ in range(n)],
    "coarse": [(float(rng.randint(0, 3)), float(rng.randint(0, 3))) for _ in range(n)],
}


def outcome(c, r):
    return 1 if c > r else (-1 if c < r else 0)


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    d = 1 + z * z / n
    return (centre - half) / d, (centre + half) / d


expected = {}
labels = {}
for name, scores in judges.items():
    o = [outcome(c, r) for c, r in scores]
    labels[name] = o
    wins, ties = o.count(1), o.count(0)
    lo, hi = wilson(wins, n)
    expected[name] = {"accuracy": wins / n, "accuracy_ties_half": (wins + 0.5 * ties) / n, "tie_rate": ties / n,
                      "wilson_low": lo, "wilson_high": hi}
agreement = []
for a, b in itertools.combinations(judges, 2):
    po = sum(x == y for x, y in zip(labels[a], labels[b])) / n
    pe = sum((labels[a].count(l) / n) * (labels[b].count(l) / n) for l in (-1, 0, 1))
    agreement.append({"a": a, "b": b, "agreement": po, "kappa": (po - pe) / (1 - pe)})
json.dump({"judges": {k: [list(p) for p in v] for k, v in judges.items()}, "expected": expected, "agreement": agreement},
          open("tests/fixtures/preference/judges.json", "w"), indent=0)
