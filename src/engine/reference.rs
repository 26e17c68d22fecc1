//! Reference tasks: stored system outputs scored against references with BLEU, chrF and ROUGE
//! (generation tasks score what the models wrote the same way).
//!
//! Each item keeps the sufficient statistics of every metric (BLEU and chrF counts, ROUGE
//! precision/recall/F), so corpus scores, bootstrap intervals and paired tests between systems
//! are all computed from the stored per-item scores, exactly as sacrebleu and rouge_score
//! compute them from their own statistics.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::aggregate::bootstrapped_row;
use super::cache::{ItemScore, JobRecord};
use crate::cli::reference::bleu_item_stats;
use crate::data::{self, DatasetSpec};
use crate::metrics::bleu::BleuConfig;
use crate::metrics::chrf::ChrfConfig;
use crate::metrics::rouge::{RougeScorer, RougeType};
use crate::metrics::stats::{self, ItemStats, PairedResult};
use crate::metrics::Metric;
use crate::store::ResultRow;
use crate::suite::{ModelDef, ModelKind, ReferenceOptions, Significance, TaskDef};

fn chrf_config(metric: Metric, opts: &ReferenceOptions) -> ChrfConfig {
    ChrfConfig { word_order: if metric == Metric::ChrfPlusPlus { 2 } else { 0 }, lowercase: opts.lowercase, ..ChrfConfig::default() }
}

fn rouge_type(metric: Metric) -> Option<RougeType> {
    match metric {
        Metric::Rouge1 => Some(RougeType::Rouge1),
        Metric::Rouge2 => Some(RougeType::Rouge2),
        Metric::RougeL => Some(RougeType::RougeL),
        Metric::RougeLsum => Some(RougeType::RougeLsum),
        _ => None,
    }
}

/// The references of a task, one list per item.
pub fn load_references(spec: &DatasetSpec) -> Result<Vec<Vec<String>>, String> {
    let mut refs = data::load_aligned(&spec.path, spec.format, &spec.fields.text).map_err(|e| e.to_string())?;
    if let Some(limit) = spec.limit {
        refs.truncate(limit);
    }
    Ok(refs)
}

/// Scores one system's stored outputs: per item, every metric's statistics.
pub fn score_outputs(task: &TaskDef, model: &ModelDef, refs: &[Vec<String>]) -> Result<Vec<ItemScore>, String> {
    let ModelKind::Outputs(src) = &model.kind else {
        return Err(format!("model {} has no stored outputs", model.id));
    };
    let mut outputs: Vec<String> = data::load_aligned(&src.path, src.format, &src.field)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|mut v| v.swap_remove(0))
        .collect();
    if let Some(limit) = task.dataset.limit {
        outputs.truncate(limit);
    }
    if outputs.len() != refs.len() {
        return Err(format!(
            "{} has {} outputs but the references {} have {}; outputs must be line-aligned with references",
            src.path.display(),
            outputs.len(),
            task.dataset.path.display(),
            refs.len()
        ));
    }
    score_hypotheses(task, &outputs, refs)
}

/// Per item, every metric's statistics of `outputs` against `refs` (one list per item).
pub fn score_hypotheses(task: &TaskDef, outputs: &[String], refs: &[Vec<String>]) -> Result<Vec<ItemScore>, String> {
    let opts = task.reference.as_ref().ok_or("not a reference or generation task")?;
    let bleu = &opts.bleu;
    let sentence_bleu = BleuConfig { effective_order: true, ..bleu.clone() };
    let rouge_types: Vec<RougeType> = task.metrics.iter().filter_map(|&m| rouge_type(m)).collect();
    let rouge = RougeScorer { types: rouge_types, stem: opts.stem };
    Ok(outputs
        .par_iter()
        .zip(refs.par_iter())
        .enumerate()
        .map(|(i, (hyp, rs))| {
            let r: Vec<&str> = rs.iter().map(String::as_str).collect();
            let mut scores = BTreeMap::new();
            for &metric in &task.metrics {
                match metric {
                    Metric::Bleu => {
                        let s = bleu.segment_stats(hyp, &r);
                        scores.insert("bleu.sentence".into(), sentence_bleu.score(&s).score);
                        scores.insert("bleu.sys_len".into(), s.sys_len as f64);
                        scores.insert("bleu.ref_len".into(), s.ref_len as f64);
                        for k in 0..bleu.max_order {
                            scores.insert(format!("bleu.correct{}", k + 1), s.correct[k] as f64);
                            scores.insert(format!("bleu.total{}", k + 1), s.total[k] as f64);
                        }
                    }
                    Metric::Chrf | Metric::ChrfPlusPlus => {
                        let cfg = chrf_config(metric, opts);
                        let s = cfg.segment_stats(hyp, &r);
                        scores.insert(format!("{}.sentence", metric.name()), cfg.f_score(&s));
                        for (k, v) in s.iter().enumerate() {
                            scores.insert(format!("{}.{k:02}", metric.name()), *v as f64);
                        }
                    }
                    _ => {}
                }
            }
            if !rouge.types.is_empty() {
                for (ty, s) in rouge.score_multi(&r, hyp) {
                    scores.insert(format!("{}.precision", ty.name()), s.precision);
                    scores.insert(format!("{}.recall", ty.name()), s.recall);
                    scores.insert(format!("{}.fmeasure", ty.name()), s.fmeasure);
                }
            }
            ItemScore { id: (i + 1).to_string(), scores, output: None }
        })
        .collect())
}

/// The per-item statistics of one metric, with the scorer of their sum.
pub fn item_stats<'a>(metric: Metric, opts: &'a ReferenceOptions, record: &JobRecord) -> ItemStats<'a> {
    let get = |it: &ItemScore, k: &str| it.scores.get(k).copied().unwrap_or(0.0);
    match metric {
        Metric::Bleu => {
            let order = opts.bleu.max_order;
            let rows: Vec<Vec<f64>> = record
                .items
                .iter()
                .map(|it| {
                    let mut r = vec![get(it, "bleu.sys_len"), get(it, "bleu.ref_len")];
                    r.extend((1..=order).map(|k| get(it, &format!("bleu.correct{k}"))));
                    r.extend((1..=order).map(|k| get(it, &format!("bleu.total{k}"))));
                    r
                })
                .collect();
            ItemStats { rows, ..bleu_item_stats(&opts.bleu, &[]) }
        }
        Metric::Chrf | Metric::ChrfPlusPlus => {
            let chrf = chrf_config(metric, opts);
            let width = 3 * chrf.order();
            let rows = record
                .items
                .iter()
                .map(|it| (0..width).map(|k| get(it, &format!("{}.{k:02}", metric.name()))).collect())
                .collect();
            ItemStats { rows, score: Box::new(move |v: &[f64]| chrf.f_score(&v.iter().map(|&x| x as u64).collect::<Vec<_>>())) }
        }
        _ => {
            // ROUGE: the mean per-pair F-measure, as rouge_score's aggregator reports it.
            let key = format!("{}.fmeasure", metric.name());
            let rows = record.items.iter().map(|it| vec![get(it, &key), 1.0]).collect();
            ItemStats { rows, score: Box::new(|s: &[f64]| if s[1] > 0.0 { s[0] / s[1] } else { 0.0 }) }
        }
    }
}

/// Corpus value and bootstrap interval of every metric of a reference task's job.
pub fn reference_rows(task: &TaskDef, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
    let opts = task.reference.as_ref().expect("reference task");
    task.metrics
        .iter()
        .map(|&metric| bootstrapped_row(task, &record.model, metric, &item_stats(metric, opts, record), seed, resamples))
        .collect()
}

/// One pairwise comparison: `model_b` against `model_a` as the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct PairwiseRow {
    pub task: String,
    pub metric: String,
    pub model_a: String,
    pub model_b: String,
    pub value_a: f64,
    pub value_b: f64,
    pub p_value: f64,
    pub test: String,
}

/// Paired significance between every two systems of a reference task, per metric.
pub fn pairwise(task: &TaskDef, records: &[&JobRecord], seed: u64) -> Vec<PairwiseRow> {
    let opts = task.reference.as_ref().expect("reference task");
    let mut out = Vec::new();
    if opts.significance == Significance::None {
        return out;
    }
    for &metric in &task.metrics {
        let all: Vec<ItemStats> = records.iter().map(|r| item_stats(metric, opts, r)).collect();
        for a in 0..records.len() {
            for b in a + 1..records.len() {
                let mut rng = stats::stream(seed, &format!("paired/{}/{}/{}/{}", task.id, metric.name(), records[a].model, records[b].model));
                let r: PairedResult = match opts.significance {
                    Significance::PairedRandomization => stats::paired_approximate_randomization(&all[a], &all[b], 10_000, &mut rng),
                    _ => stats::paired_bootstrap(&all[a], &all[b], 1000, &mut rng),
                };
                out.push(PairwiseRow {
                    task: task.id.clone(),
                    metric: metric.name().into(),
                    model_a: records[a].model.clone(),
                    model_b: records[b].model.clone(),
                    value_a: r.baseline,
                    value_b: r.system,
                    p_value: r.p_value,
                    test: opts.significance.name().into(),
                });
            }
        }
    }
    out
}
