//! lmgauge: evaluate and compare n-gram, masked and causal language models on the same data.
//!
//! The crate is built in layers; each imports only the layers below it (checked by the
//! `layers` integration test, which holds this list):
//!
//! ```text
//! main → cli → report, gate → engine → tasks → store → error → suite → metrics → models → data
//! ```
//!
//! - `cli` parses arguments once and calls the layers below; `main` maps its outcome to an exit
//!   code.
//! - `report` renders `summary.md` and `index.html` from a run folder; `gate` compares a run with
//!   a committed baseline (verdicts, Markdown, JUnit). Both read runs only through `store`.
//! - `engine` plans task × model jobs, runs them in parallel, saves each as it ends (resume,
//!   shards, merge) and aggregates through the task types.
//! - `tasks` holds one file per task type (perplexity, reference, preference, generation, minimal pairs) behind
//!   the [`tasks::Task`] trait: run a job, aggregate it, compare a task's models.
//! - `store` owns every record a run folder holds (results, typed item scores, job records,
//!   tables, manifest, gate verdicts) and how numbers are shown.
//! - `suite` parses and validates a suite file; `metrics` holds the metric and statistics
//!   functions (sacrebleu, rouge-score and KenLM-compatible where they claim to be); `models`
//!   the model families; `data` the dataset readers.
//!
//! docs/internals.md walks through the layers and how to add a task type or an architecture.

pub mod cli;
pub mod data;
pub mod engine;
pub mod error;
pub mod gate;
pub mod metrics;
pub mod models;
pub mod report;
pub mod store;
pub mod suite;
pub mod tasks;

pub use error::Error;
