//! CI regression gates: a run compared with a committed baseline, metric by metric.
//!
//! `baseline` saves and loads baselines (aggregates plus the per-item scores paired tests need),
//! `compare` decides a verdict per task × model × metric from a paired bootstrap of the
//! difference and the metric's tolerance band, `output` renders the verdicts for people and CI
//! systems (Markdown, JUnit XML, JSON).

pub mod baseline;
pub mod compare;
pub mod output;

pub use crate::store::gate::{GateEntry, GateReport, Verdict};
pub use crate::suite::gates::{GatePolicy, Tolerance};
pub use compare::gate_run;
