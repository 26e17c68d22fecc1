"""Writes tests/fixtures/metrics/ by running the reference tools themselves on real text:
sacrebleu 2.6.0 (BLEU, chrF, chrF++), rouge-score 0.1.2 (ROUGE-1/2/L/Lsum, with and without
stemming) and NLTK 3.10 (Porter stemmer, NLTK_EXTENSIONS mode).

Run with scripts/metric-fixtures.sh, which installs those versions into .tools/venv.
Inputs: WMT17 newstest2017 en-de (data/wmt17-en-de/, reference + 4 systems), HH-RLHF
harmless-base test responses (../shared/data/hh-rlhf), Moby-Dick and WikiText-2 vocabularies.
"""
import json, os, re, sys
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from rouge_score import rouge_scorer
from nltk.stem.porter import PorterStemmer

OUT = "tests/fixtures/metrics"
WMT = "data/wmt17-en-de"
SYSTEMS = ["uedin-nmt.4722", "KIT.4950", "online-B.0", "PROMT-Rule-based.4735"]
assert sacrebleu.__version__ == "2.6.0", sacrebleu.__version__


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def bleu_result(s, metric, nrefs):
    return {"score": s.score, "counts": list(map(float, s.counts)), "totals": list(map(float, s.totals)),
            "precisions": s.precisions, "bp": s.bp, "sys_len": s.sys_len, "ref_len": s.ref_len,
            "signature": str(metric.get_signature()).replace(f"nrefs:{nrefs}", f"nrefs:{nrefs}")}


def wmt():
    ref = lines(f"{WMT}/newstest2017.ref.de")
    systems = {s: lines(f"{WMT}/newstest2017.{s}.hyp.de") for s in SYSTEMS}
    cases = []
    for name, hyp in systems.items():
        for tok in ["13a", "intl", "char", "none", "zh"]:
            m = BLEU(tokenize=tok)
            cases.append({"system": name, "refs": ["ref"], "tokenize": tok, "smooth": "exp", "lowercase": False,
                          **bleu_result(m.corpus_score(hyp, [ref]), m, 1)})
        for smooth in ["floor", "add-k", "none"]:
            m = BLEU(smooth_method=smooth)
            cases.append({"system": name, "refs": ["ref"], "tokenize": "13a", "smooth": smooth, "lowercase": False,
                          **bleu_result(m.corpus_score(hyp, [ref]), m, 1)})
        m = BLEU(lowercase=True)
        cases.append({"system": name, "refs": ["ref"], "tokenize": "13a", "smooth": "exp", "lowercase": True,
                      **bleu_result(m.corpus_score(hyp, [ref]), m, 1)})
    # Two reference streams: the human reference plus another system's output.
    m = BLEU()
    cases.append({"system": "KIT.4950", "refs": ["ref", "online-B.0"], "tokenize": "13a", "smooth": "exp", "lowercase": False,
                  **bleu_result(m.corpus_score(systems["KIT.4950"], [ref, systems["online-B.0"]]), m, 2)})
    # Sentence BLEU (effective order, as `sacrebleu -sl`) on the first 300 segments.
    sm = BLEU(effective_order=True)
    sentence = [sm.sentence_score(h, [r]).score for h, r in zip(systems["uedin-nmt.4722"][:300], ref[:300])]
    chrf = []
    for name, hyp in systems.items():
        for wo in (0, 2):
            c = CHRF(word_order=wo)
            chrf.append({"system": name, "word_order": wo, "score": c.corpus_score(hyp, [ref]).score,
                         "signature": str(c.get_signature())})
    c = CHRF()
    chrf_sent = [c.sentence_score(h, [r]).score for h, r in zip(systems["KIT.4950"][:300], ref[:300])]
    c2 = CHRF(word_order=2)
    chrf2_sent = [c2.sentence_score(h, [r]).score for h, r in zip(systems["KIT.4950"][:300], ref[:300])]
    return {"bleu": cases, "sentence_bleu_uedin_first300": sentence, "chrf": chrf,
            "sentence_chrf_kit_first300": chrf_sent, "sentence_chrfpp_kit_first300": chrf2_sent}


EDGE_HYPS = ["", "The cat sat on the mat.", "!!! ... ???", "Größe Übermaß — naïve café", "a " * 400 + "end",
             "Only hypothesis here", "x", "日本語のテキスト、です。", "1,000.5 and 3-4 &amp; a.b,c"]
EDGE_REFS = ["Something", "", "?!.", "Große Übermaß — naive cafe", "a " * 380 + "end of it",
             "Only hypothesis here", "x y", "日本語のテキストです。", "1,000.5 and 3 - 4 & a . b , c"]


def edges():
    out = {"hyps": EDGE_HYPS, "refs": EDGE_REFS, "bleu_sentence": [], "chrf_sentence": [], "bleu_corpus": {}}
    m = BLEU(effective_order=True)
    c = CHRF()
    for h, r in zip(EDGE_HYPS, EDGE_REFS):
        out["bleu_sentence"].append(m.sentence_score(h, [r]).score)
        out["chrf_sentence"].append(c.sentence_score(h, [r]).score)
    for tok in ["13a", "intl", "char", "none", "zh"]:
        b = BLEU(tokenize=tok)
        out["bleu_corpus"][tok] = bleu_result(b.corpus_score(EDGE_HYPS, [EDGE_REFS]), b, 1)
    return out


def responses():
    """(target, prediction) pairs of multi-sentence texts: the chosen and rejected final
    assistant turns of HH-RLHF pairs, one sentence per line (for rougeLsum)."""
    pairs = []
    with open("../shared/data/hh-rlhf/harmless-base-test.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            a = d["chosen"].rsplit("\n\nAssistant:", 1)[-1].strip()
            b = d["rejected"].rsplit("\n\nAssistant:", 1)[-1].strip()
            split = lambda t: "\n".join(s for s in re.split(r"(?<=[.!?])\s+", t) if s)
            pairs.append((split(a), split(b)))
            if len(pairs) == 400:
                break
    return pairs


def rouge(pairs):
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    out = {"pairs": [{"target": t, "prediction": p} for t, p in pairs], "scores": {}}
    for stem in (False, True):
        sc = rouge_scorer.RougeScorer(types, use_stemmer=stem)
        out["scores"]["stem" if stem else "plain"] = [
            {k: [v.precision, v.recall, v.fmeasure] for k, v in sc.score(t, p).items()} for t, p in pairs]
    sc = rouge_scorer.RougeScorer(types, use_stemmer=True)
    multi = []
    for i in range(100):
        refs = [pairs[i][0], pairs[i + 100][0]]
        multi.append({"targets": refs, "prediction": pairs[i][1],
                      "scores": {k: [v.precision, v.recall, v.fmeasure] for k, v in sc.score_multi(refs, pairs[i][1]).items()}})
    out["multi"] = multi
    edge_pairs = [("", "abc"), ("abc", ""), ("!!! ???", "... ,,,"), ("Größe Übermaß naïve", "Grosse naive"),
                  ("one\n\ntwo three", "two\none"), ("a " * 300, "a " * 200 + "b"), ("Testing one two", "testing")]
    out["edges"] = [{"target": t, "prediction": p, "scores": {k: [v.precision, v.recall, v.fmeasure] for k, v in sc.score(t, p).items()}} for t, p in edge_pairs]
    return out


def porter_words():
    words = set()
    for path in ["../shared/data/gutenberg/moby-dick.txt", "data/wikitext-2/valid.txt", "data/wikitext-2/test.txt"]:
        with open(path, encoding="utf-8") as f:
            words.update(re.findall(r"[a-z]+", f.read().lower()))
    words = sorted(words)
    st = PorterStemmer()
    with open(f"{OUT}/porter.tsv", "w", encoding="utf-8") as f:
        for w in words:
            f.write(f"{w}\t{st.stem(w)}\n")
    return len(words)


os.makedirs(OUT, exist_ok=True)
json.dump(wmt(), open(f"{OUT}/sacrebleu-wmt17.json", "w"), indent=0)
json.dump(edges(), open(f"{OUT}/sacrebleu-edges.json", "w", encoding="utf-8"), indent=0, ensure_ascii=False)
json.dump(rouge(responses()), open(f"{OUT}/rouge-hh.json", "w", encoding="utf-8"), indent=0, ensure_ascii=False)
print("porter words:", porter_words())
