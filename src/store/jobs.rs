//! Jobs on disk: a job's identity and key, and the record it leaves. Each job's per-item scores
//! are written atomically the moment it ends,
//! so an interrupted run keeps them and `--resume` never recomputes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scores::Scores;
use crate::error::Error;

pub const JOB_RECORD_VERSION: u32 = 1;

/// One unit of work: a model on a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    pub task: String,
    pub model: String,
}

impl Job {
    /// The file stem of the job's record: `task__model`, collision-free. Ids use
    /// `[A-Za-z0-9._-]`; one that holds `__` or starts or ends with `_` (the only ids that could
    /// blur the separator: task `a` × model `m__x` against task `a__m` × model `x`) has its `_`
    /// written `%5F`, a form no plain id can take. Ordinary ids keep readable names.
    pub fn key(&self) -> String {
        format!("{}__{}", key_part(&self.task), key_part(&self.model))
    }
}

fn key_part(id: &str) -> std::borrow::Cow<'_, str> {
    if id.contains("__") || id.starts_with('_') || id.ends_with('_') || id.contains('%') {
        std::borrow::Cow::Owned(id.replace('%', "%25").replace('_', "%5F"))
    } else {
        std::borrow::Cow::Borrowed(id)
    }
}

/// Scores of one item, typed by task kind (see [`Scores`]); stored in the flat form
/// `{"id": …, "scores": {"nll": …, …}, "output": …}` that job records and baselines have always
/// used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredItem", into = "StoredItem")]
pub struct ItemScore {
    pub id: String,
    pub scores: Scores,
    /// What the model wrote for this item (generation tasks).
    pub output: Option<String>,
}

/// `null` stands for an undefined score (NaN, such as the word count of a partially scored
/// text), as everywhere in lmgauge's JSON; it reads back as NaN.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredItem {
    id: String,
    scores: BTreeMap<String, Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
}

impl TryFrom<StoredItem> for ItemScore {
    type Error = String;
    fn try_from(s: StoredItem) -> Result<Self, String> {
        let map: BTreeMap<String, f64> = s.scores.into_iter().map(|(k, v)| (k, v.unwrap_or(f64::NAN))).collect();
        let scores = Scores::from_map(&map).map_err(|e| format!("item {}: {e}", s.id))?;
        Ok(ItemScore { id: s.id, scores, output: s.output })
    }
}

impl From<ItemScore> for StoredItem {
    fn from(i: ItemScore) -> Self {
        let scores = i.scores.to_map().into_iter().map(|(k, v)| (k, (!v.is_nan()).then_some(v))).collect();
        StoredItem { id: i.id, scores, output: i.output }
    }
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
    let Some(bytes) = read_if_present(&path)? else { return Ok(None) };
    let record = parse_record(&path, &bytes)?;
    Ok((record.status == JobStatus::Done).then_some(record))
}

/// Parses a job record's bytes; `path` names it in errors.
pub fn parse_record(path: &Path, bytes: &[u8]) -> Result<JobRecord, Error> {
    let record: JobRecord = serde_json::from_slice(bytes).map_err(|e| {
        Error::Usage(format!("{}: unreadable job record ({e}); delete it to recompute the job", path.display()))
    })?;
    if record.version != JOB_RECORD_VERSION {
        return Err(Error::Usage(format!(
            "{}: job record version {} is not supported",
            path.display(),
            record.version
        )));
    }
    check_record(&record)
        .map_err(|m| Error::Usage(format!("{}: {m}; delete it to recompute the job", path.display())))?;
    Ok(record)
}

/// What a record read back must satisfy: a finished job scored at least one item (every
/// dataset reader refuses an empty dataset), or its aggregates would be NaN over n = 0. A
/// failed job has an error and no items.
pub fn check_record(record: &JobRecord) -> Result<(), String> {
    match record.status {
        JobStatus::Done if record.items.is_empty() => Err(format!(
            "job {} × {} is recorded as done with no items (damaged or hand-edited)",
            record.task, record.model
        )),
        JobStatus::Failed if record.error.is_none() => {
            Err(format!("job {} × {} is recorded as failed without its error", record.task, record.model))
        }
        _ => Ok(()),
    }
}

/// A file's bytes, or None when it does not exist (the files a run folder may lack).
pub fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes a file whole or not at all, through a uniquely named temporary file
/// ([`crate::data::atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::data::atomic::write(path, bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide() {
        let job = |t: &str, m: &str| Job { task: t.into(), model: m.into() }.key();
        assert_eq!(job("wiki-lines", "kn2"), "wiki-lines__kn2");
        assert_eq!(job("a_b", "c_d"), "a_b__c_d");
        assert_ne!(job("a", "m__x"), job("a__m", "x"));
        assert_ne!(job("a_", "b"), job("a", "_b"));
        let ids = ["a", "_", "__", "a_", "_a", "a__b", "a_b", "b", "a%5F", "x"];
        let mut keys = std::collections::HashSet::new();
        for t in ids {
            for m in ids {
                assert!(keys.insert(job(t, m)), "{t} × {m}");
            }
        }
    }
}
