//! lmgauge: evaluate and compare n-gram, masked and causal language models on the same data.
//!
//! The pipeline runs forward only, one module per arrow:
//! `suite` parses and validates a suite file into a resolved [`suite::Suite`]; `engine` plans
//! task × model jobs, runs them (rayon on CPU), caches each finished job so a run can resume, and
//! aggregates per-item scores with seeded bootstrap intervals; `store` writes `results.csv`,
//! `items.parquet` and the `run.json` manifest; `report` renders `summary.md` and a
//! self-contained `index.html` from what `store` wrote. `models` holds the model families behind
//! one capability-based trait, `metrics` the pure metric and statistics functions, and `data`
//! the dataset readers.

pub mod cli;
pub mod data;
pub mod error;
pub mod gate;
pub mod models;

pub use error::Error;
pub mod engine;
pub mod metrics;
pub mod report;
pub mod store;
pub mod suite;
pub mod tasks;
