//! Run history: every run of a suite in one table, for trend charts and for
//! `lmgauge history`.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{ResultRow, RunManifest, read_results_csv};
use crate::error::Error;

/// One run's place in the history.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    pub dir: PathBuf,
    pub manifest: RunManifest,
    pub rows: Vec<ResultRow>,
}

/// The runs under `suite_dir` (one folder each; `latest` and unreadable folders skipped), oldest
/// first.
pub fn collect(suite_dir: &Path) -> Result<Vec<HistoryRun>, Error> {
    let entries = std::fs::read_dir(suite_dir).map_err(|e| Error::io(suite_dir, e))?;
    let mut runs = Vec::new();
    for e in entries.flatten() {
        let dir = e.path();
        let is_link = e.file_type().map(|t| t.is_symlink()).unwrap_or(false);
        if is_link || !dir.is_dir() || !dir.join("results.csv").is_file() {
            continue;
        }
        let (Ok(manifest), Ok(rows)) = (RunManifest::load(&dir), read_results_csv(&dir.join("results.csv"))) else {
            continue;
        };
        if manifest.shard.is_some() {
            continue; // shards are partial runs; their merge is the run
        }
        runs.push(HistoryRun { dir, manifest, rows });
    }
    runs.sort_by(|a, b| {
        (a.manifest.started_unix, &a.manifest.run_id).cmp(&(b.manifest.started_unix, &b.manifest.run_id))
    });
    Ok(runs)
}

/// Writes the history as one long table to `out` (`.csv` or `.parquet`).
pub fn write(runs: &[HistoryRun], out: &Path) -> Result<usize, Error> {
    let (mut run_id, mut started, mut commit, mut status) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut task, mut model, mut metric, mut value, mut lo, mut hi, mut n, mut hib) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in runs {
        for row in &r.rows {
            run_id.push(r.manifest.run_id.clone());
            started.push(r.manifest.started_unix);
            commit.push(r.manifest.git_commit.clone().unwrap_or_default());
            status.push(r.manifest.status.clone());
            task.push(row.task.clone());
            model.push(row.model.clone());
            metric.push(row.metric.clone());
            value.push(row.value);
            lo.push(row.ci_low);
            hi.push(row.ci_high);
            n.push(row.n);
            hib.push(row.higher_is_better);
        }
    }
    let rows = value.len();
    let err = |e: PolarsError| Error::Usage(format!("{}: {e}", out.display()));
    let mut df = df!(
        "run_id" => run_id, "started_unix" => started, "git_commit" => commit, "status" => status,
        "task" => task, "model" => model, "metric" => metric, "value" => value,
        "ci_low" => lo, "ci_high" => hi, "n" => n, "higher_is_better" => hib,
    )
    .map_err(err)?;
    let mut buf = Vec::new();
    if out.extension().is_some_and(|e| e == "parquet") {
        ParquetWriter::new(&mut buf).finish(&mut df).map_err(err)?;
    } else {
        CsvWriter::new(&mut buf).include_header(true).finish(&mut df).map_err(err)?;
    }
    crate::store::jobs::write_atomic(out, &buf)?;
    Ok(rows)
}
