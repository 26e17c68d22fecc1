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
    /// Undefined on one side or both (a correlation over two items, a rate over none): there is
    /// no difference to judge. It fails the gate when the baseline had a value and the run has
    /// none (the metric became undefined); otherwise it is reported only.
    NotComparable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Improved => "Improved",
            Verdict::Regressed => "Regressed",
            Verdict::WithinNoise => "WithinNoise",
            Verdict::Missing => "Missing",
            Verdict::New => "New",
            Verdict::NotComparable => "NotComparable",
        }
    }

    /// Every verdict, in the order counts are shown.
    pub const ALL: [Verdict; 6] = [
        Verdict::Regressed,
        Verdict::Improved,
        Verdict::WithinNoise,
        Verdict::Missing,
        Verdict::New,
        Verdict::NotComparable,
    ];
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

impl GateEntry {
    /// Whether this entry fails the gate: a regression; a missing entry when the policy says
    /// so; a metric the baseline had a value for that is undefined in the run.
    pub fn fails(&self, fail_on_missing: bool) -> bool {
        match self.verdict {
            Verdict::Regressed => true,
            Verdict::Missing => fail_on_missing,
            Verdict::NotComparable => {
                self.baseline.is_some_and(f64::is_finite) && !self.current.is_some_and(f64::is_finite)
            }
            Verdict::Improved | Verdict::WithinNoise | Verdict::New => false,
        }
    }
}

impl GateReport {
    pub fn count(&self, v: Verdict) -> usize {
        self.entries.iter().filter(|e| e.verdict == v).count()
    }

    /// Exit code 1 material: any entry that fails ([`GateEntry::fails`]).
    pub fn failed(&self) -> bool {
        self.entries.iter().any(|e| e.fails(self.policy.fail_on_missing))
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
