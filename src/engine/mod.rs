//! The engine: plan jobs (`plan`) and run them (`run`): in parallel, each saved the moment it
//! ends so a run resumes, sharded and merged; what a job does is its task's business (`tasks`).

pub mod plan;
pub mod progress;
pub mod run;

pub use progress::Display;
pub use run::{RunOptions, RunOutcome, run_suite};
