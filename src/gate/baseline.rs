//! Baselines: a run's aggregates with intervals and n, the suite hash, and (compressed, beside
//! the JSON) the per-item scores that paired comparisons need. Written only by
//! `lmgauge baseline save`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::store::jobs::{self, JobRecord, JobStatus};
use crate::store::{ResultRow, RunManifest, read_results_csv};

pub const BASELINE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub suite: String,
    pub suite_hash: String,
    pub seed: u64,
    pub run_id: String,
    pub git_commit: Option<String>,
    pub lmgauge_version: String,
    /// File name (beside this one) of the gzip-compressed per-item scores.
    pub items_file: String,
    pub entries: Vec<ResultRow>,
}

/// The default location: `baselines/<suite>.json`.
pub fn default_path(suite: &str) -> PathBuf {
    PathBuf::from("baselines").join(format!("{suite}.json"))
}

/// A run's `results.csv` rows for a baseline or a verdict: ±∞ refused with the file and the entry
/// (undefined values, NaN, pass). A baseline's own JSON cannot hold ±∞: serde_json refuses
/// numbers out of range when it reads one.
pub fn measured_rows(run_dir: &Path) -> Result<Vec<ResultRow>, Error> {
    let path = run_dir.join("results.csv");
    let rows = read_results_csv(&path)?;
    for r in &rows {
        crate::store::check_finite_or_undefined(&path, r)?;
    }
    Ok(rows)
}

/// Every finished job record of a run, in file-name order.
pub fn run_records(run_dir: &Path) -> Result<Vec<JobRecord>, Error> {
    let dir = jobs::job_dir(run_dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let r = jobs::parse_record(&p, &bytes)?;
        if r.status == JobStatus::Done {
            out.push(r);
        }
    }
    Ok(out)
}

/// Saves a run as a baseline at `to`; returns the paths written.
pub fn save(run_dir: &Path, to: Option<&Path>) -> Result<(PathBuf, PathBuf), Error> {
    let manifest = RunManifest::load(run_dir)?;
    if manifest.status != "complete" {
        return Err(Error::Usage(format!(
            "{} did not complete (status {}); a baseline needs every job finished",
            run_dir.display(),
            manifest.status
        )));
    }
    let rows = measured_rows(run_dir)?;
    let mut records = run_records(run_dir)?;
    for r in &mut records {
        r.seconds = 0.0; // timings would make identical baselines differ
    }
    let path = to.map(Path::to_path_buf).unwrap_or_else(|| default_path(&manifest.suite));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| manifest.suite.clone());
    let items_name = format!("{stem}.items.json.gz");
    let items_path = path.with_file_name(&items_name);
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(&serde_json::to_vec(&records).expect("serializable")).map_err(|e| Error::io(&items_path, e))?;
    jobs::write_atomic(&items_path, &gz.finish().map_err(|e| Error::io(&items_path, e))?)?;
    let baseline = Baseline {
        version: BASELINE_VERSION,
        suite: manifest.suite.clone(),
        suite_hash: manifest.suite_hash.clone(),
        seed: manifest.seed,
        run_id: manifest.run_id.clone(),
        git_commit: manifest.git_commit.clone(),
        lmgauge_version: env!("CARGO_PKG_VERSION").into(),
        items_file: items_name,
        entries: rows,
    };
    let mut json = serde_json::to_vec_pretty(&baseline).expect("serializable");
    json.push(b'\n');
    jobs::write_atomic(&path, &json)?;
    Ok((path, items_path))
}

/// Loads a baseline and its per-item scores.
pub fn load(path: &Path) -> Result<(Baseline, Vec<JobRecord>), Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Usage(format!(
                "no baseline at {}; create one from a finished run with `lmgauge baseline save RUN --output {}` and commit it",
                path.display(),
                path.display()
            ))
        } else {
            Error::io(path, e)
        }
    })?;
    let b = parse(path, &bytes)?;
    let items_path = path.with_file_name(&b.items_file);
    let gz = std::fs::read(&items_path).map_err(|e| Error::io(&items_path, e))?;
    Ok((b, parse_items(&items_path, &gz)?))
}

/// Parses a baseline's JSON; `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Baseline, Error> {
    let b: Baseline = serde_json::from_slice(bytes)
        .map_err(|e| Error::Usage(format!("{}: not a lmgauge baseline: {e}", path.display())))?;
    if b.version != BASELINE_VERSION {
        return Err(Error::Usage(format!(
            "{}: baseline version {} is not supported (this build reads {BASELINE_VERSION})",
            path.display(),
            b.version
        )));
    }
    // The items file must lie beside the baseline: a name with a folder in it could point anywhere.
    if b.items_file.is_empty() || b.items_file.contains(['/', '\\']) || b.items_file == ".." {
        return Err(Error::Usage(format!(
            "{}: field items_file must be a file name beside the baseline, found {:?}",
            path.display(),
            b.items_file
        )));
    }
    Ok(b)
}

/// Decompresses and parses a baseline's per-item scores; `items_path` names them in errors.
pub fn parse_items(items_path: &Path, gz: &[u8]) -> Result<Vec<JobRecord>, Error> {
    let mut json = Vec::new();
    // Per-item scores compress well; refuse anything that expands absurdly.
    flate2::read::GzDecoder::new(gz)
        .take((gz.len() as u64).saturating_mul(200).saturating_add(1 << 20))
        .read_to_end(&mut json)
        .map_err(|e| Error::Usage(format!("{}: corrupt gzip: {e}", items_path.display())))?;
    let records: Vec<JobRecord> = serde_json::from_slice(&json)
        .map_err(|e| Error::Usage(format!("{}: unreadable per-item scores: {e}", items_path.display())))?;
    for r in &records {
        jobs::check_record(r).map_err(|m| {
            Error::Usage(format!("{}: {m}; save the baseline again from one finished run", items_path.display()))
        })?;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_baseline_cannot_hold_an_infinite_value() {
        let entry = |v: &str| {
            format!(
                r#"{{"task":"t","model":"m","metric":"bleu","value":{v},"ci_low":null,"ci_high":null,"n":1,"higher_is_better":true}}"#
            )
        };
        let row: crate::store::ResultRow = serde_json::from_str(&entry("null")).unwrap();
        assert!(row.value.is_nan() && row.ci_low.is_nan());
        assert!(serde_json::from_str::<crate::store::ResultRow>(&entry("1e999")).is_err());
    }
}
