//! Task types, one file each. A [`Task`] scores its items with one model per job, turns a job's
//! per-item scores into result rows, gives the per-item statistics paired tests need, and writes
//! the tables that compare a task's models with one another. The engine knows only this trait:
//! it plans, runs in parallel, saves, resumes and shards jobs without asking what type a task is.
//!
//! A task type ([`TaskType`]) says what a suite's task of its type may hold (its options, read
//! with serde), which metrics it produces and what its models must be able to do; the suite is
//! checked against it before anything runs ([`load_suite`]).
//!
//! Adding a task type: its file here (options, a [`TaskType`] and a [`Task`]), one line in
//! [`TASK_TYPES`], its section in docs/suites.md. docs/internals.md walks through it.

mod agreement;
mod bertscore_judge;
mod fewshot;
pub mod generation;
pub mod human_agreement;
pub mod jsonl;
pub mod kl_divergence;
mod metric_judge;
pub mod minimal_pairs;
pub mod multiple_choice;
pub mod perplexity;
pub mod preference;
mod published;
mod pyrandom;
pub mod ratings;
mod ratings_table;
pub mod reference;

mod registry;

use std::sync::Arc;

use crate::metrics::Metric;
use crate::metrics::stats::{ItemStats, bootstrap, percentile_interval, stream};
use crate::models::LanguageModel;
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::tables::TaskTables;
use crate::suite::{ModelDef, TaskDef};

pub use registry::{Check, TASK_TYPES, TaskType, for_def, for_suite, load_suite, parse_suite};

/// A loaded model, shared between the jobs that use it.
pub type SharedModel = Arc<dyn LanguageModel>;

/// What a job asks of the engine while it runs.
pub trait JobContext: Sync {
    /// The job's model, loaded once per run and shared; an error says why it could not load.
    fn model(&self) -> Result<SharedModel, String>;
    /// Another model of the suite, by id, loaded once per run and shared like the job's own
    /// (a base model the job's model is compared with).
    fn other_model(&self, id: &str) -> Result<SharedModel, String>;
    /// The suite's seed (or the run's override).
    fn seed(&self) -> u64;
    /// A job with many items reports how many there are, then each batch it finishes.
    fn progress_start(&self, _items: u64) {}
    fn progress_advance(&self, _items: u64) {}
}

/// What one job produced.
pub struct JobOutput {
    pub items: Result<Vec<ItemScore>, String>,
    /// What ran, for the report when the suite says nothing about the model (the loader's
    /// description of a language model, or what a judge does).
    pub description: String,
    /// Problems with the data that did not stop the job (e.g. skipped preference pairs).
    pub notes: Vec<String>,
}

impl JobOutput {
    pub fn failed(error: String) -> JobOutput {
        JobOutput { items: Err(error), description: String::new(), notes: Vec::new() }
    }
}

/// One task type's behaviour. Data the jobs share (a dataset, references, pairs) is loaded once
/// per task object, on first use.
pub trait Task: Send + Sync {
    fn def(&self) -> &TaskDef;

    /// Scores the task's items with `model`.
    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput;

    /// The result rows of one finished job, in the task's metric order.
    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow>;

    /// The per-item statistics of one metric of a job, with the scorer of their sum: the basis of
    /// paired comparisons (gates) between two runs. `judge` is the result row's model id.
    fn item_stats(&self, metric: Metric, record: &JobRecord, judge: &str) -> ItemStats<'_>;

    /// Whether [`Task::item_stats`] gives `metric` (a percentile over tokens is no sum of
    /// per-item rows): a gate compares the others by value and band only.
    fn resamples_items(&self, _metric: Metric) -> bool {
        true
    }

    /// Tables that compare the task's finished jobs (pairwise tests, judge agreement, examples).
    fn tables(&self, _records: &[&JobRecord], _seed: u64) -> TaskTables {
        TaskTables::default()
    }

    /// The job whose records hold a result row's scores: the row's model, unless the type
    /// reports several rows per job under derived names (a preference judge's `model:mean`).
    fn job_model<'m>(&self, row_model: &'m str) -> &'m str {
        row_model
    }

    /// What one item asks a model (`lmgauge show-prompt`): its prompt, before a model renders
    /// it, and the continuations that are scored after it (none where the model generates).
    /// None where the type builds no prompt (perplexity reads raw text, judges read outputs).
    /// `chat`: as a chat model is given it (its few-shot examples may be drawn differently).
    fn prompt(&self, _item: &str, _chat: bool) -> Option<Result<ItemPrompt, String>> {
        None
    }
}

/// One item's prompt and the continuations scored after it.
pub struct ItemPrompt {
    pub prompt: crate::models::prompt::Prompt,
    pub continuations: Vec<String>,
}

/// The error for an item id a task does not hold, with the first ids it does.
pub fn no_such_item<'a>(task: &str, item: &str, ids: impl Iterator<Item = &'a str>) -> String {
    let first: Vec<&str> = ids.take(3).collect();
    format!("task {task} has no item {item:?} (its items are named like {})", first.join(", "))
}

/// A result row whose interval comes from bootstrap resampling the items of `stats`, with the
/// task's stream (every model on a task sees the same resamples, so their intervals are paired).
pub fn bootstrapped_row(
    task: &TaskDef,
    model: &str,
    metric: Metric,
    stats: &ItemStats,
    seed: u64,
    resamples: usize,
) -> ResultRow {
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
