//! From per-item scores to corpus metrics, each with n and a seeded 95% bootstrap interval.

use crate::metrics::perplexity::PerplexityCounts;
use crate::metrics::stats::{bootstrap, percentile_interval, stream};
use crate::metrics::{Metric, TaskType};
use crate::store::ResultRow;
use crate::suite::TaskDef;

use super::cache::{ItemScore, JobRecord};

/// The item score key that marks pseudo-log-likelihood sums (masked LMs).
pub const PSEUDO_MARK: &str = "pseudo";

fn counts_of(item: &ItemScore) -> PerplexityCounts {
    let get = |k: &str| item.scores.get(k).copied().unwrap_or(0.0);
    PerplexityCounts { nll: get("nll"), tokens: get("tokens"), words: get("words"), bytes: get("bytes") }
}

/// The result rows of one finished job, in the task's metric order.
pub fn aggregate(task: &TaskDef, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
    match task.task_type {
        TaskType::Perplexity => perplexity_rows(task, record, seed, resamples),
        TaskType::Reference | TaskType::Generation => super::reference::reference_rows(task, record, seed, resamples),
        TaskType::Preference => super::preference::preference_rows(task, record, seed, resamples),
    }
}

fn perplexity_rows(task: &TaskDef, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
    let items: Vec<PerplexityCounts> = record.items.iter().map(counts_of).collect();
    let mut total = PerplexityCounts::default();
    items.iter().for_each(|c| total.add(c));
    // One stream per task: every model on a task is resampled with the same items, so their
    // intervals are paired and differ only through the models.
    let mut rng = stream(seed, &format!("bootstrap/{}", record.task));
    let resampled: Vec<PerplexityCounts> = bootstrap(items.len(), resamples, &mut rng, |sample| {
        let mut sum = PerplexityCounts::default();
        sample.iter().for_each(|&i| sum.add(&items[i]));
        sum
    });
    // Masked LMs mark their items: their sums are pseudo-log-likelihoods.
    let pseudo = record.items.iter().any(|it| it.scores.contains_key(PSEUDO_MARK));
    task.metrics
        .iter()
        .map(|&metric| if pseudo { metric.pseudo() } else { metric })
        .map(|metric| {
            let values: Vec<f64> = resampled.iter().map(|c| c.metric(metric)).collect();
            let (ci_low, ci_high) = percentile_interval(&values).unwrap_or((f64::NAN, f64::NAN));
            row(task, record, metric, total.metric(metric), ci_low, ci_high)
        })
        .collect()
}

/// A result row whose interval comes from bootstrap resampling the items of `stats`, with the
/// task's stream (every model on a task sees the same resamples).
pub fn bootstrapped_row(task: &TaskDef, model: &str, metric: Metric, stats: &crate::metrics::stats::ItemStats, seed: u64, resamples: usize) -> ResultRow {
    let mut rng = stream(seed, &format!("bootstrap/{}", task.id));
    let resampled = bootstrap(stats.len(), resamples, &mut rng, |s| stats.score_of(s));
    let (ci_low, ci_high) = percentile_interval(&resampled).unwrap_or((f64::NAN, f64::NAN));
    ResultRow {
        task: task.id.clone(),
        model: model.to_owned(),
        metric: metric.name().to_owned(),
        value: stats.score_all(),
        ci_low,
        ci_high,
        n: stats.len() as u64,
        higher_is_better: metric.higher_is_better(),
    }
}

fn row(task: &TaskDef, record: &JobRecord, metric: Metric, value: f64, ci_low: f64, ci_high: f64) -> ResultRow {
    ResultRow {
        task: task.id.clone(),
        model: record.model.clone(),
        metric: metric.name().to_owned(),
        value,
        ci_low,
        ci_high,
        n: record.items.len() as u64,
        higher_is_better: metric.higher_is_better(),
    }
}

/// The per-item statistics of one metric of a job, with the scorer of their sum: the basis of
/// paired comparisons (gates) between two runs of the same task, model and metric.
/// `judge` is the result row's model id (preference tasks derive `model:mean` judges from the
/// `model` record).
pub fn metric_item_stats<'a>(task: &'a TaskDef, metric: Metric, record: &JobRecord, judge: &str) -> crate::metrics::stats::ItemStats<'a> {
    match task.task_type {
        TaskType::Perplexity => {
            let rows = record.items.iter().map(|it| {
                let c = counts_of(it);
                vec![c.nll, c.tokens, c.words, c.bytes]
            });
            crate::metrics::stats::ItemStats {
                rows: rows.collect(),
                score: Box::new(move |s: &[f64]| PerplexityCounts { nll: s[0], tokens: s[1], words: s[2], bytes: s[3] }.metric(metric)),
            }
        }
        TaskType::Reference | TaskType::Generation => {
            let opts = task.reference.as_ref().expect("reference task");
            super::reference::item_stats(metric, opts, record)
        }
        TaskType::Preference => super::preference::metric_stats(metric, record, if judge.ends_with(":mean") { "_mean" } else { "" }),
    }
}
