//! Per-item scores, typed by the kind of task that made them: a likelihood (perplexity tasks; a
//! masked LM's pseudo-likelihood is its own flag, not a score), a judged preference pair, the
//! log-likelihood of each choice of a multiple-choice question, a system output's statistics
//! against its references (reference and generation tasks), or a stretch of text's next-token
//! distributions compared with a base model's (KL-divergence tasks).
//!
//! On disk (job records, baselines, `items.parquet`) an item keeps the flat form runs have
//! always written, `{"nll": …, "tokens": …}` and `bleu.sys_len`, `chrf.00`, `rouge1.fmeasure`
//! and so on; [`Scores::to_map`] and [`Scores::from_map`] are the one place that knows the keys.

use std::collections::BTreeMap;

pub use crate::metrics::divergence::Divergence;

/// The scores of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Scores {
    Likelihood(LikelihoodScores),
    Preference(PreferenceScores),
    Reference(ReferenceScores),
    Choices(ChoiceScores),
    /// A stretch of text's next-token distributions compared with a base model's.
    Divergence(Divergence),
    /// A judge's scores of one rated output (human-agreement tasks), by the judge's name for
    /// each score (`score`, `per_token`, …); a corpus metric adds its sufficient statistics
    /// (`corpus.bleu.00`, …) so that a system's corpus score can be recomputed.
    Judge(BTreeMap<String, f64>),
}

/// A multiple-choice question as a model answered it: the summed log-likelihood of each choice
/// given the context, each choice's length in characters, and the index of the right one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChoiceScores {
    pub logliks: Vec<f64>,
    pub chars: Vec<f64>,
    pub gold: usize,
}

impl ChoiceScores {
    /// The first choice of highest score (`numpy.argmax`'s tie rule, as lm-evaluation-harness).
    fn argmax(values: impl Iterator<Item = f64>) -> usize {
        let mut best = (0, f64::NEG_INFINITY);
        for (i, v) in values.enumerate() {
            if v > best.1 || i == 0 {
                best = (i, v);
            }
        }
        best.0
    }

    /// lm-evaluation-harness's `acc`: the choice of highest log-likelihood is the gold one.
    pub fn acc(&self) -> bool {
        Self::argmax(self.logliks.iter().copied()) == self.gold
    }

    /// `acc_norm`: the same with each log-likelihood divided by its choice's length in characters.
    pub fn acc_norm(&self) -> bool {
        Self::argmax(self.logliks.iter().zip(&self.chars).map(|(l, c)| l / c)) == self.gold
    }
}

/// A text's negative log-likelihood (natural log) and its sizes, for every perplexity form.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LikelihoodScores {
    pub nll: f64,
    pub tokens: f64,
    pub words: f64,
    pub bytes: f64,
    /// Tokens the model did not know.
    pub oov: f64,
    /// A pseudo-log-likelihood (masked LMs: each token predicted from both sides).
    pub pseudo: bool,
}

/// One judge's verdict material on a pair: the score of each response (higher is preferred)
/// and their lengths in characters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreferenceScores {
    pub chosen: f64,
    pub rejected: f64,
    /// Language-model judges also give each response's per-token mean log-likelihood.
    pub per_token: Option<(f64, f64)>,
    pub len_chosen: f64,
    pub len_rejected: f64,
}

/// A system output's statistics against its references, per metric the task asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceScores {
    pub bleu: Option<BleuItem>,
    pub chrf: Option<ChrfItem>,
    pub chrf_plus_plus: Option<ChrfItem>,
    /// Keyed by ROUGE variant (`rouge1`, `rougeL`, …).
    pub rouge: BTreeMap<String, RougeItem>,
    /// Generation tasks: tokens the model wrote.
    pub generated_tokens: Option<f64>,
}

/// sacrebleu's sufficient statistics of one segment, and its sentence BLEU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BleuItem {
    pub sentence: f64,
    pub sys_len: f64,
    pub ref_len: f64,
    pub correct: Vec<f64>,
    pub total: Vec<f64>,
}

/// chrF statistics of one segment (3 per n-gram order), and its sentence chrF.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChrfItem {
    pub sentence: f64,
    pub stats: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RougeItem {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl ReferenceScores {
    pub fn chrf_of(&self, plus_plus: bool) -> Option<&ChrfItem> {
        if plus_plus { self.chrf_plus_plus.as_ref() } else { self.chrf.as_ref() }
    }
}

impl Scores {
    /// The flat form written to disk: score name → value, in name order.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_owned(), v);
        };
        match self {
            Scores::Likelihood(s) => {
                for (k, v) in
                    [("nll", s.nll), ("tokens", s.tokens), ("words", s.words), ("bytes", s.bytes), ("oov", s.oov)]
                {
                    put(k, v);
                }
                if s.pseudo {
                    put("pseudo", 1.0);
                }
            }
            Scores::Preference(s) => {
                for (k, v) in [
                    ("chosen", s.chosen),
                    ("rejected", s.rejected),
                    ("len_chosen", s.len_chosen),
                    ("len_rejected", s.len_rejected),
                ] {
                    put(k, v);
                }
                if let Some((c, r)) = s.per_token {
                    put("chosen_mean", c);
                    put("rejected_mean", r);
                }
            }
            Scores::Choices(s) => {
                put("gold", s.gold as f64);
                for (k, (l, c)) in s.logliks.iter().zip(&s.chars).enumerate() {
                    put(&format!("ll.{k}"), *l);
                    put(&format!("chars.{k}"), *c);
                }
            }
            Scores::Divergence(d) => {
                for (k, v) in [
                    ("tokens", d.tokens),
                    ("kld", d.kld),
                    ("same_top", d.same_top),
                    ("nll", d.nll),
                    ("nll_base", d.nll_base),
                    ("delta_p", d.delta_p),
                    ("delta_p2", d.delta_p2),
                ] {
                    put(&format!("divergence.{k}"), v);
                }
                for (i, v) in d.values.iter().enumerate() {
                    put(&format!("kld.{i}"), *v);
                }
            }
            Scores::Judge(values) => {
                for (k, v) in values {
                    put(&format!("judge.{k}"), *v);
                }
            }
            Scores::Reference(s) => {
                if let Some(b) = &s.bleu {
                    put("bleu.sentence", b.sentence);
                    put("bleu.sys_len", b.sys_len);
                    put("bleu.ref_len", b.ref_len);
                    for (k, (c, t)) in b.correct.iter().zip(&b.total).enumerate() {
                        put(&format!("bleu.correct{}", k + 1), *c);
                        put(&format!("bleu.total{}", k + 1), *t);
                    }
                }
                for (name, c) in [("chrf", &s.chrf), ("chrf++", &s.chrf_plus_plus)] {
                    if let Some(c) = c {
                        put(&format!("{name}.sentence"), c.sentence);
                        for (k, v) in c.stats.iter().enumerate() {
                            put(&format!("{name}.{k:02}"), *v);
                        }
                    }
                }
                for (ty, r) in &s.rouge {
                    put(&format!("{ty}.precision"), r.precision);
                    put(&format!("{ty}.recall"), r.recall);
                    put(&format!("{ty}.fmeasure"), r.fmeasure);
                }
                if let Some(g) = s.generated_tokens {
                    put("generated_tokens", g);
                }
            }
        }
        m
    }

    /// Reads the flat form back; a key no task writes is an error naming it.
    pub fn from_map(m: &BTreeMap<String, f64>) -> Result<Scores, String> {
        let get = |k: &str| m.get(k).copied();
        let need = |k: &str| get(k).ok_or_else(|| format!("score {k:?} is missing"));
        let unknown = |k: &str| format!("unknown score {k:?}");
        if m.contains_key("nll") {
            for k in m.keys() {
                if !["nll", "tokens", "words", "bytes", "oov", "pseudo"].contains(&k.as_str()) {
                    return Err(unknown(k));
                }
            }
            return Ok(Scores::Likelihood(LikelihoodScores {
                nll: need("nll")?,
                tokens: need("tokens")?,
                words: need("words")?,
                bytes: need("bytes")?,
                oov: get("oov").unwrap_or(0.0),
                pseudo: m.contains_key("pseudo"),
            }));
        }
        if m.contains_key("chosen") {
            for k in m.keys() {
                if !["chosen", "rejected", "len_chosen", "len_rejected", "chosen_mean", "rejected_mean"]
                    .contains(&k.as_str())
                {
                    return Err(unknown(k));
                }
            }
            let per_token = match (get("chosen_mean"), get("rejected_mean")) {
                (Some(c), Some(r)) => Some((c, r)),
                _ => None,
            };
            return Ok(Scores::Preference(PreferenceScores {
                chosen: need("chosen")?,
                rejected: need("rejected")?,
                per_token,
                len_chosen: need("len_chosen")?,
                len_rejected: need("len_rejected")?,
            }));
        }
        if let Some(&gold) = m.get("gold") {
            return choices_from_map(m, gold);
        }
        if m.contains_key("divergence.tokens") {
            return divergence_from_map(m);
        }
        if m.keys().next().is_some_and(|k| k.starts_with("judge.")) {
            return m
                .iter()
                .map(|(k, &v)| k.strip_prefix("judge.").map(|j| (j.to_owned(), v)).ok_or_else(|| unknown(k)))
                .collect::<Result<_, _>>()
                .map(Scores::Judge);
        }
        let mut s = ReferenceScores::default();
        for (k, &v) in m {
            let (head, tail) = k.split_once('.').unwrap_or((k.as_str(), ""));
            match (head, tail) {
                ("generated_tokens", "") => s.generated_tokens = Some(v),
                ("bleu", _) => {
                    let b = s.bleu.get_or_insert_with(BleuItem::default);
                    let slot = |list: &mut Vec<f64>, n: &str| -> Result<(), String> {
                        let i: usize = n.parse().ok().filter(|&i| (1..=64).contains(&i)).ok_or_else(|| unknown(k))?;
                        if list.len() < i {
                            list.resize(i, 0.0);
                        }
                        list[i - 1] = v;
                        Ok(())
                    };
                    match tail {
                        "sentence" => b.sentence = v,
                        "sys_len" => b.sys_len = v,
                        "ref_len" => b.ref_len = v,
                        t if t.starts_with("correct") => slot(&mut b.correct, &t["correct".len()..])?,
                        t if t.starts_with("total") => slot(&mut b.total, &t["total".len()..])?,
                        _ => return Err(unknown(k)),
                    }
                }
                ("chrf" | "chrf++", _) => {
                    let c = if head == "chrf" { &mut s.chrf } else { &mut s.chrf_plus_plus };
                    let c = c.get_or_insert_with(ChrfItem::default);
                    if tail == "sentence" {
                        c.sentence = v;
                    } else {
                        let i: usize = tail.parse().ok().filter(|&i| i < 4096).ok_or_else(|| unknown(k))?;
                        if c.stats.len() <= i {
                            c.stats.resize(i + 1, 0.0);
                        }
                        c.stats[i] = v;
                    }
                }
                (ty, part) if ty.starts_with("rouge") => {
                    let r = s.rouge.entry(ty.to_owned()).or_default();
                    match part {
                        "precision" => r.precision = v,
                        "recall" => r.recall = v,
                        "fmeasure" => r.fmeasure = v,
                        _ => return Err(unknown(k)),
                    }
                }
                _ => return Err(unknown(k)),
            }
        }
        Ok(Scores::Reference(s))
    }

    pub fn judge(&self) -> Option<&BTreeMap<String, f64>> {
        match self {
            Scores::Judge(s) => Some(s),
            _ => None,
        }
    }

    pub fn likelihood(&self) -> Option<&LikelihoodScores> {
        match self {
            Scores::Likelihood(s) => Some(s),
            _ => None,
        }
    }

    pub fn preference(&self) -> Option<&PreferenceScores> {
        match self {
            Scores::Preference(s) => Some(s),
            _ => None,
        }
    }

    pub fn choices(&self) -> Option<&ChoiceScores> {
        match self {
            Scores::Choices(s) => Some(s),
            _ => None,
        }
    }

    pub fn divergence(&self) -> Option<&Divergence> {
        match self {
            Scores::Divergence(s) => Some(s),
            _ => None,
        }
    }

    pub fn reference(&self) -> Option<&ReferenceScores> {
        match self {
            Scores::Reference(s) => Some(s),
            _ => None,
        }
    }
}

/// A compared stretch's flat form: `divergence.*` sums, and `kld.K` for each of its tokens.
fn divergence_from_map(m: &BTreeMap<String, f64>) -> Result<Scores, String> {
    let mut d = Divergence::default();
    let mut values = vec![f64::NAN; m.len().saturating_sub(7)];
    for (k, &v) in m {
        let slot = match k.split_once('.') {
            Some(("divergence", "tokens")) => &mut d.tokens,
            Some(("divergence", "kld")) => &mut d.kld,
            Some(("divergence", "same_top")) => &mut d.same_top,
            Some(("divergence", "nll")) => &mut d.nll,
            Some(("divergence", "nll_base")) => &mut d.nll_base,
            Some(("divergence", "delta_p")) => &mut d.delta_p,
            Some(("divergence", "delta_p2")) => &mut d.delta_p2,
            Some(("kld", i)) => match i.parse::<usize>().ok().and_then(|i| values.get_mut(i)) {
                Some(slot) => slot,
                None => return Err(format!("unknown score {k:?}")),
            },
            _ => return Err(format!("unknown score {k:?}")),
        };
        *slot = v;
    }
    if values.len() as f64 != d.tokens || values.iter().any(|v| v.is_nan()) {
        return Err(format!(
            "a compared stretch of {} tokens needs divergence.* and kld.0 to kld.{} (one per token)",
            d.tokens,
            d.tokens - 1.0
        ));
    }
    d.values = values;
    Ok(Scores::Divergence(d))
}

/// A multiple-choice item's flat form: `gold`, then `ll.K` and `chars.K` for every choice K.
fn choices_from_map(m: &BTreeMap<String, f64>, gold: f64) -> Result<Scores, String> {
    let n = m.len().saturating_sub(1) / 2;
    let mut s = ChoiceScores { logliks: vec![f64::NAN; n], chars: vec![f64::NAN; n], gold: gold as usize };
    for (k, &v) in m.iter().filter(|(k, _)| *k != "gold") {
        let slot = k.split_once('.').and_then(|(head, i)| Some((head, i.parse::<usize>().ok().filter(|&i| i < n)?)));
        match slot {
            Some(("ll", i)) if s.logliks[i].is_nan() => s.logliks[i] = v,
            Some(("chars", i)) if s.chars[i].is_nan() => s.chars[i] = v,
            _ => return Err(format!("unknown score {k:?}")),
        }
    }
    if n < 2 || gold.fract() != 0.0 || s.gold >= n || m.len().is_multiple_of(2) {
        return Err(format!("a multiple-choice item needs gold < choices and ll.K, chars.K for 2+ choices: {m:?}"));
    }
    Ok(Scores::Choices(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_what_it_wrote() {
        let mut rouge = BTreeMap::new();
        rouge.insert("rougeL".to_owned(), RougeItem { precision: 0.5, recall: 0.25, fmeasure: 1.0 / 3.0 });
        let all = [
            Scores::Likelihood(LikelihoodScores {
                nll: 12.5,
                tokens: 4.0,
                words: 3.0,
                bytes: 17.0,
                oov: 1.0,
                pseudo: true,
            }),
            Scores::Preference(PreferenceScores {
                chosen: -3.0,
                rejected: -4.5,
                per_token: Some((-1.0, -1.5)),
                len_chosen: 10.0,
                len_rejected: 12.0,
            }),
            Scores::Reference(ReferenceScores {
                bleu: Some(BleuItem {
                    sentence: 30.0,
                    sys_len: 9.0,
                    ref_len: 10.0,
                    correct: vec![7.0, 4.0, 2.0, 1.0],
                    total: vec![9.0, 8.0, 7.0, 6.0],
                }),
                chrf: Some(ChrfItem { sentence: 55.0, stats: (0..18).map(f64::from).collect() }),
                chrf_plus_plus: None,
                rouge,
                generated_tokens: Some(32.0),
            }),
            Scores::Choices(ChoiceScores {
                logliks: vec![-3.0, -2.5, -7.0, -1.0, -4.0, -5.0, -6.0, -8.0, -9.0, -10.0, -11.0, -12.0],
                chars: (1..=12).map(f64::from).collect(),
                gold: 3,
            }),
            Scores::Divergence(Divergence {
                tokens: 3.0,
                kld: 0.25,
                same_top: 2.0,
                nll: 7.5,
                nll_base: 7.0,
                delta_p: -0.125,
                delta_p2: 0.0625,
                values: vec![0.0625, 0.125, 0.0625],
            }),
        ];
        for s in all {
            assert_eq!(Scores::from_map(&s.to_map()).unwrap(), s);
        }
    }

    #[test]
    fn acc_and_acc_norm_take_the_first_best_choice() {
        let s = ChoiceScores { logliks: vec![-4.0, -4.0, -6.0], chars: vec![4.0, 2.0, 12.0], gold: 0 };
        assert!(s.acc(), "a tie goes to the first choice, as numpy.argmax");
        assert!(!s.acc_norm(), "-4/4 = -1 < -6/12 = -0.5");
        assert!(ChoiceScores { gold: 2, ..s }.acc_norm());
    }

    #[test]
    fn an_unknown_score_is_named() {
        let m = BTreeMap::from([
            ("nll".to_owned(), 1.0),
            ("tokens".to_owned(), 1.0),
            ("words".to_owned(), 1.0),
            ("bytes".to_owned(), 1.0),
            ("nlll".to_owned(), 2.0),
        ]);
        assert_eq!(Scores::from_map(&m).unwrap_err(), "unknown score \"nlll\"");
        let m = BTreeMap::from([("gold".to_owned(), 0.0), ("ll.0".to_owned(), -1.0), ("chars.0".to_owned(), 3.0)]);
        assert!(Scores::from_map(&m).unwrap_err().contains("2+ choices"));
        let m = BTreeMap::from([("bleu.correctx".to_owned(), 1.0)]);
        assert!(Scores::from_map(&m).unwrap_err().contains("bleu.correctx"));
    }
}
