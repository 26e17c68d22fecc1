//! `run.json`: how a run came to be — suite hash and seed, tool and dependency versions, git
//! commit, host, timings and the status of every job. Versioned like every saved file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub version: u32,
    pub run_id: String,
    pub suite: String,
    #[serde(default)]
    pub suite_description: Option<String>,
    pub suite_file: String,
    pub suite_hash: String,
    pub seed: u64,
    pub bootstrap_resamples: usize,
    /// `running` while jobs run, then `complete` or `failed`.
    pub status: String,
    pub tool_version: String,
    pub dependencies: Vec<(String, String)>,
    pub git_commit: Option<String>,
    pub host: HostInfo,
    pub started_unix: u64,
    #[serde(default)]
    pub finished_unix: Option<u64>,
    pub only_tasks: Vec<String>,
    pub only_models: Vec<String>,
    pub models: Vec<ModelInfo>,
    pub tasks: Vec<TaskInfo>,
    pub jobs: Vec<JobSummary>,
    /// The suite's gate policy, applied by `lmgauge gate` unless `--policy` overrides it.
    #[serde(default)]
    pub gate_policy: Option<crate::suite::gates::GatePolicy>,
    /// `K/N` when this run holds only shard K of N (see `lmgauge merge`).
    #[serde(default)]
    pub shard: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    pub task_type: String,
    pub dataset: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub task: String,
    pub model: String,
    pub status: String,
    pub seconds: f64,
    pub items: usize,
    #[serde(default)]
    pub error: Option<String>,
    /// True when the job's scores came from an earlier, interrupted run.
    #[serde(default)]
    pub resumed: bool,
}

impl HostInfo {
    pub fn current() -> HostInfo {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".into());
        HostInfo {
            hostname,
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

impl RunManifest {
    pub fn save(&self, run_dir: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("serializable");
        crate::store::jobs::write_atomic(&run_dir.join("run.json"), &bytes)
    }

    pub fn load(run_dir: &Path) -> Result<RunManifest, Error> {
        let path = run_dir.join("run.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Self::parse(&path, &bytes)
    }

    /// Parses and checks a manifest's bytes; `path` names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<RunManifest, Error> {
        let m: RunManifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::Usage(format!("{}: not a lmgauge run manifest: {e}", path.display())))?;
        if m.version != MANIFEST_VERSION {
            return Err(Error::Usage(format!("{}: manifest version {} is not supported", path.display(), m.version)));
        }
        // A hand-edited record must fail here, with the field named, not deep in a report.
        if m.suite_hash.len() != 64 || !m.suite_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Usage(format!(
                "{}: field suite_hash must be 64 hexadecimal digits (a SHA-256), found {:?}",
                path.display(),
                m.suite_hash
            )));
        }
        if !matches!(m.status.as_str(), "running" | "complete" | "failed") {
            return Err(Error::Usage(format!(
                "{}: field status must be running, complete or failed, found {:?}",
                path.display(),
                m.status
            )));
        }
        Ok(m)
    }

    /// Whether the run wrote its results (a killed run has a manifest but no results.csv).
    pub fn has_results(run_dir: &Path) -> bool {
        run_dir.join("results.csv").is_file()
    }

    /// The refusal of a run that did not finish, with the command that finishes it; `then` says
    /// what to do next.
    pub fn unfinished(&self, run_dir: &Path, then: &str) -> Error {
        Error::Usage(format!(
            "run {} did not finish (status {:?}, no results.csv): finish it with `lmgauge run-suite {} --resume`{then}",
            run_dir.display(),
            self.status,
            self.suite_file
        ))
    }

    /// The first 12 digits of the suite hash, for display.
    pub fn short_hash(&self) -> String {
        short_hash(&self.suite_hash)
    }
}

/// The first 12 characters of a hash (never slicing inside a character).
pub fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The dependency versions this binary was built with (from Cargo.lock, by build.rs).
pub fn dependency_versions() -> Vec<(String, String)> {
    env!("LMGAUGE_DEPENDENCIES")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The current git commit of the working directory, when there is one.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
