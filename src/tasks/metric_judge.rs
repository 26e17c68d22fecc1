//! Reference metrics as judges of single outputs (preference pairs, rated outputs): a
//! [`JudgeRecipe`] scores one hypothesis against its references, as the reference tools do at
//! the sentence level — sacrebleu's `sentence_bleu` (13a, exp smoothing, effective order) and
//! `sentence_chrf` over every reference at once, rouge-score with stemming per reference,
//! combined by mean or max — and gives the sufficient statistics behind a corpus BLEU or chrF
//! of a system's outputs (as `corpus_bleu` / `corpus_chrf` compute them).

use crate::metrics::Metric;
use crate::metrics::bleu::{BleuConfig, moses};
use crate::metrics::chrf::ChrfConfig;
use crate::metrics::rouge;
use crate::suite::{BleuRecipe, JudgeRecipe, MultiReference, ScorePart, SentenceSplit};

/// What a judge gives one output: its sentence score and, for BLEU and chrF, the statistics a
/// corpus score sums.
pub struct Judged {
    pub score: f64,
    pub stats: Vec<f64>,
}

fn chrf(metric: Metric) -> ChrfConfig {
    ChrfConfig { word_order: if metric == Metric::ChrfPlusPlus { 2 } else { 0 }, ..ChrfConfig::default() }
}

/// rougeLsum's sentences of tokenized text: a line break after each " . ".
fn split_periods(text: &str) -> String {
    text.replace(" . ", " .\n")
}

/// A segment's references made ready for one recipe: tokenized, stemmed or counted once, however
/// many outputs are scored against them.
pub enum Prepared {
    Bleu(crate::metrics::bleu::PreparedRefs),
    Chrf(Vec<Vec<crate::metrics::chrf::Grams>>),
    /// ROUGE-1/2/L: each reference's tokens; rougeLsum: each reference's sentences' tokens.
    Rouge(Vec<Vec<String>>),
    RougeLsum(Vec<Vec<Vec<String>>>),
}

fn sentences(text: &str, recipe: &JudgeRecipe) -> Vec<Vec<String>> {
    let text = if recipe.sentences == SentenceSplit::Period { split_periods(text) } else { text.to_owned() };
    text.split('\n').filter(|s| !s.is_empty()).map(|s| rouge::tokenize(s, true)).collect()
}

/// Prepares `refs` (at least one) for `recipe`.
pub fn prepare(recipe: &JudgeRecipe, refs: &[&str]) -> Prepared {
    match recipe.metric {
        Metric::Bleu => match recipe.bleu {
            BleuRecipe::Sentence => Prepared::Bleu(BleuConfig::default().prepare(refs)),
            BleuRecipe::Wmt19Moses => {
                let refs: Vec<String> = refs.iter().map(|r| moses::tokenize_en(r)).collect();
                Prepared::Bleu(BleuConfig::default().prepare(&refs.iter().map(String::as_str).collect::<Vec<_>>()))
            }
        },
        Metric::Chrf | Metric::ChrfPlusPlus => Prepared::Chrf(chrf(recipe.metric).prepare(refs)),
        Metric::RougeLsum => Prepared::RougeLsum(refs.iter().map(|r| sentences(r, recipe)).collect()),
        _ => Prepared::Rouge(refs.iter().map(|r| rouge::tokenize(r, true)).collect()),
    }
}

/// Scores `hyp` against `refs` (at least one) with `recipe`.
pub fn judge(recipe: &JudgeRecipe, hyp: &str, refs: &[&str]) -> Judged {
    judge_prepared(recipe, hyp, &prepare(recipe, refs))
}

/// Scores `hyp` against references prepared by [`prepare`] with the same recipe.
pub fn judge_prepared(recipe: &JudgeRecipe, hyp: &str, refs: &Prepared) -> Judged {
    let part = |s: rouge::RougeScore| match recipe.part {
        ScorePart::F => s.fmeasure,
        ScorePart::Precision => s.precision,
        ScorePart::Recall => s.recall,
    };
    let combine = |parts: Vec<f64>| match recipe.references {
        MultiReference::Mean => parts.iter().sum::<f64>() / parts.len() as f64,
        MultiReference::Max => parts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    match refs {
        Prepared::Bleu(prepared) => {
            let corpus = BleuConfig::default();
            let (s, score) = match recipe.bleu {
                BleuRecipe::Sentence => {
                    let s = corpus.stats_prepared(hyp, prepared);
                    let sentence = BleuConfig { effective_order: true, ..BleuConfig::default() };
                    let score = sentence.score(&s).score;
                    (s, score)
                }
                BleuRecipe::Wmt19Moses => {
                    let s = corpus.stats_prepared(&moses::tokenize_en(hyp), prepared);
                    let score = corpus.score_sacrebleu1(&s).score;
                    (s, score)
                }
            };
            let mut stats = vec![s.sys_len as f64, s.ref_len as f64];
            stats.extend(s.correct.iter().chain(&s.total).map(|&c| c as f64));
            Judged { score, stats }
        }
        Prepared::Chrf(prepared) => {
            let c = chrf(recipe.metric);
            let s = c.stats_prepared(hyp, prepared);
            Judged { score: c.f_score(&s), stats: s.iter().map(|&v| v as f64).collect() }
        }
        Prepared::Rouge(targets) => {
            let tokens = rouge::tokenize(hyp, true);
            let parts = targets
                .iter()
                .map(|t| {
                    part(match recipe.metric {
                        Metric::Rouge1 => rouge::rouge_n(t, &tokens, 1),
                        Metric::Rouge2 => rouge::rouge_n(t, &tokens, 2),
                        _ => rouge::rouge_l(t, &tokens),
                    })
                })
                .collect();
            Judged { score: combine(parts), stats: Vec::new() }
        }
        Prepared::RougeLsum(targets) => {
            let hyp = sentences(hyp, recipe);
            let parts = targets.iter().map(|t| part(rouge::rouge_lsum(t, &hyp))).collect();
            Judged { score: combine(parts), stats: Vec::new() }
        }
    }
}

/// A system's corpus score from the summed statistics of its outputs (BLEU, chrF); `None` for
/// metrics without one (ROUGE: the system's score is the mean of its outputs').
pub fn corpus(recipe: &JudgeRecipe, summed: &[f64]) -> Option<f64> {
    match recipe.metric {
        Metric::Bleu => {
            let c = BleuConfig::default();
            let order = c.max_order;
            if summed.len() != 2 + 2 * order {
                return None;
            }
            let u = |v: &[f64]| v.iter().map(|&x| x as u64).collect::<Vec<_>>();
            let stats = crate::metrics::bleu::BleuStats {
                sys_len: summed[0] as u64,
                ref_len: summed[1] as u64,
                correct: u(&summed[2..2 + order]),
                total: u(&summed[2 + order..]),
            };
            Some(c.score(&stats).score)
        }
        Metric::Chrf | Metric::ChrfPlusPlus => {
            Some(chrf(recipe.metric).f_score(&summed.iter().map(|&x| x as u64).collect::<Vec<_>>()))
        }
        _ => None,
    }
}

/// What the recipe computes, for the report.
pub fn describe(recipe: &JudgeRecipe) -> String {
    let what = match recipe.metric {
        Metric::Bleu if recipe.bleu == BleuRecipe::Wmt19Moses => {
            "WMT19 baseline BLEU: Moses-tokenized (sacremoses, English), single-sentence corpus BLEU as sacrebleu 1.x scored it; corpus BLEU per system".to_owned()
        }
        Metric::Bleu => "sentence BLEU (sacrebleu: 13a, exp smoothing, effective order; corpus BLEU per system)".to_owned(),
        Metric::Chrf => "sentence chrF (sacrebleu; corpus chrF per system)".to_owned(),
        Metric::ChrfPlusPlus => "sentence chrF++ (sacrebleu; corpus chrF++ per system)".to_owned(),
        m => {
            let part = match recipe.part {
                ScorePart::F => "F-measure",
                ScorePart::Precision => "precision",
                ScorePart::Recall => "recall",
            };
            let refs = match recipe.references {
                MultiReference::Mean => "mean over references",
                MultiReference::Max => "best reference",
            };
            let split = if recipe.sentences == SentenceSplit::Period && m == Metric::RougeLsum {
                ", sentences split at \" . \""
            } else {
                ""
            };
            format!("{} {part} with stemming (rouge-score), {refs}{split}", m.name())
        }
    };
    format!("reference-metric judge: {what}")
}
