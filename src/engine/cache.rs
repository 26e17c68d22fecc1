//! Finished jobs on disk: each job's per-item scores are written atomically the moment it ends,
//! so an interrupted run keeps them and `--resume` never recomputes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Job;
use crate::error::Error;

pub const JOB_RECORD_VERSION: u32 = 1;

/// Scores of one item: named values (for perplexity: `nll`, `tokens`, `words`, `bytes`, `oov`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemScore {
    pub id: String,
    pub scores: BTreeMap<String, f64>,
    /// What the model wrote for this item (generation tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Done,
    Failed,
}

/// What a job left behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub version: u32,
    pub task: String,
    pub model: String,
    pub status: JobStatus,
    #[serde(default)]
    pub error: Option<String>,
    pub model_description: String,
    pub seconds: f64,
    pub items: Vec<ItemScore>,
    /// Problems with the data that did not stop the job (e.g. skipped preference pairs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

pub fn job_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("jobs")
}

fn record_path(run_dir: &Path, job: &Job) -> PathBuf {
    job_dir(run_dir).join(format!("{}.json", job.key()))
}

/// Writes the record through a temporary file and a rename, so a kill leaves either the whole
/// record or none.
pub fn save(run_dir: &Path, record: &JobRecord) -> Result<(), Error> {
    let dir = job_dir(run_dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let job = Job { task: record.task.clone(), model: record.model.clone() };
    let path = record_path(run_dir, &job);
    write_atomic(&path, serde_json::to_vec(record).expect("serializable").as_slice())
}

/// A finished (successful) job's record, if one is on disk.
pub fn load_done(run_dir: &Path, job: &Job) -> Result<Option<JobRecord>, Error> {
    let path = record_path(run_dir, job);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let record = parse_record(&path, &bytes)?;
    Ok((record.status == JobStatus::Done).then_some(record))
}

/// Parses a job record's bytes; `path` names it in errors.
pub fn parse_record(path: &Path, bytes: &[u8]) -> Result<JobRecord, Error> {
    let record: JobRecord = serde_json::from_slice(bytes)
        .map_err(|e| Error::Usage(format!("{}: unreadable job record ({e}); delete it to recompute the job", path.display())))?;
    if record.version != JOB_RECORD_VERSION {
        return Err(Error::Usage(format!("{}: job record version {} is not supported", path.display(), record.version)));
    }
    Ok(record)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension(format!("{}.partial", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
