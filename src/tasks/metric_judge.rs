//! Reference metrics as judges of single outputs (preference pairs, rated outputs): a
//! [`JudgeRecipe`] scores one hypothesis against its references, as the reference tools do at
//! the sentence level — sacrebleu's `sentence_bleu` (13a, exp smoothing, effective order) and
//! `sentence_chrf` over every reference at once, rouge-score with stemming per reference,
//! combined by mean or max — and gives the sufficient statistics behind a corpus BLEU or chrF
//! of a system's outputs (as `corpus_bleu` / `corpus_chrf` compute them).

use crate::metrics::Metric;
use crate::metrics::bleu::{BleuConfig, moses};
use crate::metrics::chrf::ChrfConfig;
use crate::metrics::rouge::{RougeScorer, RougeType};
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

fn rouge_type(metric: Metric) -> RougeType {
    match metric {
        Metric::Rouge1 => RougeType::Rouge1,
        Metric::Rouge2 => RougeType::Rouge2,
        Metric::RougeL => RougeType::RougeL,
        _ => RougeType::RougeLsum,
    }
}

/// rougeLsum's sentences of tokenized text: a line break after each " . ".
fn split_periods(text: &str) -> String {
    text.replace(" . ", " .\n")
}

/// Scores `hyp` against `refs` (at least one) with `recipe`.
pub fn judge(recipe: &JudgeRecipe, hyp: &str, refs: &[&str]) -> Judged {
    match recipe.metric {
        Metric::Bleu => {
            let corpus = BleuConfig::default();
            let (s, score) = match recipe.bleu {
                BleuRecipe::Sentence => {
                    let s = corpus.segment_stats(hyp, refs);
                    let sentence = BleuConfig { effective_order: true, ..BleuConfig::default() };
                    let score = sentence.score(&s).score;
                    (s, score)
                }
                BleuRecipe::Wmt19Moses => {
                    let refs: Vec<String> = refs.iter().map(|r| moses::tokenize_en(r)).collect();
                    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                    let s = corpus.segment_stats(&moses::tokenize_en(hyp), &refs);
                    let score = corpus.score_sacrebleu1(&s).score;
                    (s, score)
                }
            };
            let mut stats = vec![s.sys_len as f64, s.ref_len as f64];
            stats.extend(s.correct.iter().chain(&s.total).map(|&c| c as f64));
            Judged { score, stats }
        }
        Metric::Chrf | Metric::ChrfPlusPlus => {
            let c = chrf(recipe.metric);
            let s = c.segment_stats(hyp, refs);
            Judged { score: c.f_score(&s), stats: s.iter().map(|&v| v as f64).collect() }
        }
        metric => {
            let scorer = RougeScorer { types: vec![rouge_type(metric)], stem: true };
            let period = recipe.sentences == SentenceSplit::Period && metric == Metric::RougeLsum;
            let prepared = |t: &str| if period { split_periods(t) } else { t.to_owned() };
            let hyp = prepared(hyp);
            let parts: Vec<f64> = refs
                .iter()
                .map(|r| {
                    let s = scorer.score(&prepared(r), &hyp)[0].1;
                    match recipe.part {
                        ScorePart::F => s.fmeasure,
                        ScorePart::Precision => s.precision,
                        ScorePart::Recall => s.recall,
                    }
                })
                .collect();
            let score = match recipe.references {
                MultiReference::Mean => parts.iter().sum::<f64>() / parts.len() as f64,
                MultiReference::Max => parts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            Judged { score, stats: Vec::new() }
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
