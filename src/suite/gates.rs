//! Gate policy: how `lmgauge gate` judges changes against a baseline, as a suite's `gates:`
//! section or a `--policy` file of the same shape says (tolerance bands per metric, the test, the
//! resamples). Parsed with the suite; the verdicts themselves are the `gate` module's work.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How changes are judged; a suite's `gates:` section, or a `--policy` file of the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// `paired-bs` (default) or `paired-ar` for the p-value; the interval is always bootstrap.
    #[serde(default = "default_test")]
    pub test: String,
    #[serde(default = "default_resamples")]
    pub resamples: usize,
    /// Tolerance for metrics not listed under `metrics`.
    #[serde(default)]
    pub default: Tolerance,
    #[serde(default)]
    pub metrics: BTreeMap<String, Tolerance>,
    /// Whether a baseline entry absent from the run fails the gate (default true).
    #[serde(default = "yes")]
    pub fail_on_missing: bool,
}

fn default_test() -> String {
    "paired-bs".into()
}
fn default_resamples() -> usize {
    1000
}
fn yes() -> bool {
    true
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            test: default_test(),
            resamples: default_resamples(),
            default: Tolerance::default(),
            metrics: BTreeMap::new(),
            fail_on_missing: true,
        }
    }
}

/// A band of changes too small to matter: the larger of an absolute amount and a fraction of the
/// baseline value. A change is a verdict only when its whole 95% interval lies beyond the band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    #[serde(default)]
    pub relative: Option<f64>,
    #[serde(default)]
    pub absolute: Option<f64>,
}

impl Tolerance {
    pub fn band(&self, baseline: f64) -> f64 {
        let rel = self.relative.unwrap_or(0.0) * baseline.abs();
        rel.max(self.absolute.unwrap_or(0.0))
    }
}

impl GatePolicy {
    pub fn tolerance(&self, metric: &str) -> Tolerance {
        self.metrics.get(metric).copied().unwrap_or(self.default)
    }

    /// Checks values a YAML file cannot express wrongly by type alone.
    pub fn check(&self) -> Result<(), String> {
        if self.test != "paired-bs" && self.test != "paired-ar" {
            return Err(format!("gates.test must be paired-bs or paired-ar, not {:?}", self.test));
        }
        let max = crate::metrics::stats::MAX_RESAMPLES;
        if !(1..=max).contains(&self.resamples) {
            return Err(format!("gates.resamples must be between 1 and {max}, not {}", self.resamples));
        }
        for (name, t) in
            std::iter::once(("default", &self.default)).chain(self.metrics.iter().map(|(k, v)| (k.as_str(), v)))
        {
            let bad = |v: Option<f64>| v.is_some_and(|v| !(v >= 0.0 && v.is_finite()));
            if bad(t.relative) || bad(t.absolute) {
                return Err(format!("gates tolerance for {name} must be a non-negative finite number"));
            }
        }
        for name in self.metrics.keys() {
            if name.parse::<crate::metrics::Metric>().is_err() {
                return Err(format!("gates.metrics: unknown metric {name:?}"));
            }
        }
        Ok(())
    }
}
