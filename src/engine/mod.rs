//! The engine: plan jobs (`plan`), run them (`run`), keep finished ones on disk (`cache`) and
//! turn per-item scores into aggregates with intervals (`aggregate`).

pub mod aggregate;
pub mod cache;
pub mod generation;
pub mod plan;
pub mod preference;
pub mod reference;
pub mod run;

pub use run::{run_suite, RunOptions, RunOutcome};
