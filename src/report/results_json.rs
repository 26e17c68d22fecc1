//! `results.json`: a run's results for programs, beside `results.csv` (for tables) and
//! `index.html` (for people). It is shaped after lm-evaluation-harness's results file, so its users
//! find `results[task][model][metric]`, `configs`, `higher_is_better` and `n-samples` where they
//! expect them, and it adds what that file lacks: every aggregate's 95% interval and n, the pairwise
//! tests between models, and the gate's verdicts when the run was gated.
//!
//! Written from the run folder's stored files alone (like the reports), after every run, merge,
//! gate and `lmgauge report`. Versioned ([`RESULTS_VERSION`]); `docs/results.schema.json` is its
//! JSON Schema, and a test validates real runs against it. Everything except `manifest` (dates,
//! timings, host) is the same bytes for the same suite and seed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::ReportData;
use crate::error::Error;
use crate::store::gate::{GateEntry, Verdict};
use crate::store::manifest::{HostInfo, JobSummary, ModelInfo};
use crate::store::tables::PairwiseRow;

/// The version of `results.json`; it changes when a field changes meaning or goes away.
pub const RESULTS_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct ResultsFile<'a> {
    pub version: u32,
    pub run_id: &'a str,
    pub suite: &'a str,
    pub suite_description: Option<&'a str>,
    /// SHA-256 of the suite file.
    pub suite_hash: &'a str,
    pub seed: u64,
    pub bootstrap_resamples: usize,
    /// `complete` or `failed` (some job failed; its rows are absent).
    pub status: &'a str,
    pub models: &'a [ModelInfo],
    /// Per task: its type, dataset, description and metrics.
    pub configs: BTreeMap<&'a str, TaskConfig<'a>>,
    /// Per task and metric: whether a larger value is better.
    pub higher_is_better: BTreeMap<&'a str, BTreeMap<&'a str, bool>>,
    /// Per task and model: the items scored.
    #[serde(rename = "n-samples")]
    pub n_samples: BTreeMap<&'a str, BTreeMap<&'a str, u64>>,
    /// Per task, model and metric: the value and its 95% interval.
    pub results: BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<&'a str, Aggregate>>>,
    /// Every two models of a task compared on the same items.
    pub pairwise: &'a [PairwiseRow],
    /// The gate's verdicts, when the run was gated.
    pub gate: Option<GateSummary<'a>>,
    /// How the run came to be; the only part that differs between two runs of the same suite and
    /// seed.
    pub manifest: Manifest<'a>,
}

#[derive(Serialize)]
pub struct TaskConfig<'a> {
    #[serde(rename = "type")]
    pub task_type: &'a str,
    pub dataset: &'a str,
    pub description: Option<&'a str>,
    pub source: Option<&'a str>,
    pub metrics: &'a [String],
}

#[derive(Serialize)]
pub struct Aggregate {
    /// `null` where the value is undefined (no items, a zero denominator).
    pub value: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub n: u64,
}

#[derive(Serialize)]
pub struct GateSummary<'a> {
    /// False when something regressed (or went missing under `fail_on_missing`): `gate` exits 1.
    pub passed: bool,
    pub baseline_run_id: &'a str,
    pub baseline_file: &'a str,
    pub suite_hash_changed: bool,
    /// How many entries got each verdict.
    pub counts: BTreeMap<&'static str, usize>,
    pub entries: &'a [GateEntry],
}

#[derive(Serialize)]
pub struct Manifest<'a> {
    pub lmgauge_version: &'a str,
    pub git_hash: Option<&'a str>,
    pub dependencies: BTreeMap<&'a str, &'a str>,
    pub suite_file: &'a str,
    pub host: &'a HostInfo,
    /// Unix seconds.
    pub started: u64,
    pub finished: Option<u64>,
    pub total_evaluation_time_seconds: Option<u64>,
    pub only_tasks: &'a [String],
    pub only_models: &'a [String],
    pub shard: Option<&'a str>,
    pub jobs: &'a [JobSummary],
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The results file of a run's report data.
pub fn build(data: &ReportData) -> ResultsFile<'_> {
    let m = &data.manifest;
    let mut results: BTreeMap<&str, BTreeMap<&str, BTreeMap<&str, Aggregate>>> = BTreeMap::new();
    let mut higher_is_better: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    let mut n_samples: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for r in &data.rows {
        let aggregate =
            Aggregate { value: finite(r.value), ci_low: finite(r.ci_low), ci_high: finite(r.ci_high), n: r.n };
        results.entry(&r.task).or_default().entry(&r.model).or_default().insert(&r.metric, aggregate);
        higher_is_better.entry(&r.task).or_default().insert(&r.metric, r.higher_is_better);
        let n = n_samples.entry(&r.task).or_default().entry(&r.model).or_default();
        *n = (*n).max(r.n);
    }
    let configs = m
        .tasks
        .iter()
        .map(|t| {
            let config = TaskConfig {
                task_type: &t.task_type,
                dataset: &t.dataset,
                description: t.description.as_deref(),
                source: t.source.as_deref(),
                metrics: &t.metrics,
            };
            (t.id.as_str(), config)
        })
        .collect();
    let gate = data.gate.as_ref().map(|g| GateSummary {
        passed: !g.failed(),
        baseline_run_id: &g.baseline_run_id,
        baseline_file: &g.baseline_file,
        suite_hash_changed: g.suite_hash_changed,
        counts: Verdict::ALL.into_iter().map(|v| (v.name(), g.count(v))).collect(),
        entries: &g.entries,
    });
    ResultsFile {
        version: RESULTS_VERSION,
        run_id: &m.run_id,
        suite: &m.suite,
        suite_description: m.suite_description.as_deref(),
        suite_hash: &m.suite_hash,
        seed: m.seed,
        bootstrap_resamples: m.bootstrap_resamples,
        status: &m.status,
        models: &m.models,
        configs,
        higher_is_better,
        n_samples,
        results,
        pairwise: &data.pairwise,
        gate,
        manifest: Manifest {
            lmgauge_version: &m.tool_version,
            git_hash: m.git_commit.as_deref(),
            dependencies: m.dependencies.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            suite_file: &m.suite_file,
            host: &m.host,
            started: m.started_unix,
            finished: m.finished_unix,
            total_evaluation_time_seconds: m.finished_unix.map(|f| f.saturating_sub(m.started_unix)),
            only_tasks: &m.only_tasks,
            only_models: &m.only_models,
            shard: m.shard.as_deref(),
            jobs: &m.jobs,
        },
    }
}

/// The bytes of `results.json` (pretty-printed, one trailing newline).
pub fn to_bytes(data: &ReportData) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&build(data)).expect("the results file serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes `results.json` into the run folder.
pub fn write(data: &ReportData, run_dir: &Path) -> Result<(), Error> {
    crate::store::jobs::write_atomic(&run_dir.join("results.json"), &to_bytes(data))
}
