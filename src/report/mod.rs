//! Reports rendered from a run's stored files only (`run.json`, `results.csv`): `summary.md`
//! and a self-contained `index.html` with inline SVG charts. `lmgauge report RUN_DIR` and the end
//! of every run call the same [`render`].

pub mod charts;
pub mod html;
pub mod markdown;

use std::path::Path;

use crate::engine::cache::write_atomic;
use crate::error::Error;
use crate::store::{read_results_csv, ResultRow, RunManifest};

/// Everything a report shows.
pub struct ReportData {
    pub manifest: RunManifest,
    pub rows: Vec<ResultRow>,
}

impl ReportData {
    pub fn load(run_dir: &Path) -> Result<ReportData, Error> {
        let manifest = RunManifest::load(run_dir)?;
        let rows = read_results_csv(&run_dir.join("results.csv"))?;
        Ok(ReportData { manifest, rows })
    }

    /// Task ids in manifest order, then any others found in the results.
    pub fn task_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.manifest.tasks.iter().map(|t| t.id.clone()).collect();
        for r in &self.rows {
            if !ids.contains(&r.task) {
                ids.push(r.task.clone());
            }
        }
        ids.retain(|t| self.rows.iter().any(|r| &r.task == t) || self.manifest.jobs.iter().any(|j| &j.task == t));
        ids
    }

    pub fn rows_of<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a ResultRow> + 'a {
        self.rows.iter().filter(move |r| r.task == task)
    }

    /// Distinct values in first-seen order.
    pub fn distinct<'a>(rows: impl Iterator<Item = &'a ResultRow>, f: impl Fn(&ResultRow) -> &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in rows {
            let v = f(r);
            if !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        }
        out
    }
}

/// Writes `summary.md` and `index.html` into the run directory.
pub fn render(run_dir: &Path) -> Result<(), Error> {
    let data = ReportData::load(run_dir)?;
    write_atomic(&run_dir.join("summary.md"), markdown::summary(&data).as_bytes())?;
    write_atomic(&run_dir.join("index.html"), html::page(&data).as_bytes())?;
    Ok(())
}

/// A number with a precision that suits its size.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}
