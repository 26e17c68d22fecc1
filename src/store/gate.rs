//! `gate.json`: the verdicts of a gated run, one entry per task × model × metric, as the gate
//! wrote them and the report reads them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::suite::gates::GatePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Improved,
    Regressed,
    WithinNoise,
    /// In the baseline, not in the run.
    Missing,
    /// In the run, not in the baseline.
    New,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Improved => "Improved",
            Verdict::Regressed => "Regressed",
            Verdict::WithinNoise => "WithinNoise",
            Verdict::Missing => "Missing",
            Verdict::New => "New",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateEntry {
    pub task: String,
    pub model: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// run − baseline.
    pub delta: Option<f64>,
    /// 95% interval of run − baseline.
    pub delta_low: Option<f64>,
    pub delta_high: Option<f64>,
    /// The tolerance band (in metric units) a change must clear.
    pub band: f64,
    pub p_value: Option<f64>,
    pub verdict: Verdict,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub version: u32,
    pub suite: String,
    pub run_id: String,
    pub baseline_run_id: String,
    pub baseline_file: String,
    /// The suite file changed between the baseline and this run.
    pub suite_hash_changed: bool,
    pub policy: GatePolicy,
    pub entries: Vec<GateEntry>,
}

impl GateReport {
    pub fn count(&self, v: Verdict) -> usize {
        self.entries.iter().filter(|e| e.verdict == v).count()
    }

    /// Exit code 1 material: a regression, or a missing entry when the policy says so.
    pub fn failed(&self) -> bool {
        self.count(Verdict::Regressed) > 0 || (self.policy.fail_on_missing && self.count(Verdict::Missing) > 0)
    }
}

/// Writes `gate.json` into the run folder.
pub fn write_json(report: &GateReport, run_dir: &Path) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(report).expect("serializable");
    json.push(b'\n');
    super::jobs::write_atomic(&run_dir.join("gate.json"), &json)
}

/// Reads `gate.json` of a run, if the run was gated.
pub fn read(run_dir: &Path) -> Result<Option<GateReport>, Error> {
    let path = run_dir.join("gate.json");
    match super::jobs::read_if_present(&path)? {
        Some(b) => serde_json::from_slice(&b).map(Some).map_err(|e| Error::Usage(format!("{}: {e}", path.display()))),
        None => Ok(None),
    }
}
