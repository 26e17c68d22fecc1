//! Running a suite: plan the jobs, run the ones not already finished (jobs and items in
//! parallel with rayon), save each job the moment it ends, then aggregate, store and report.
//!
//! A failing job is recorded with its error while the others still run; the run then ends with
//! exit code 2. Killing the process (Ctrl-C) loses only the jobs in flight: `--resume` picks up
//! the newest run of the suite and recomputes nothing that finished.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use super::plan::{Job, plan};
use super::progress::{Display, JobProgress, RunProgress, clock};
use crate::error::Error;
use crate::models::ngram::NgramModel;
use crate::store::jobs::{self, ItemScore, JOB_RECORD_VERSION, JobRecord, JobStatus};
use crate::store::tables::TaskTables;
use crate::store::{self, HostInfo, JobSummary, MANIFEST_VERSION, RunManifest, manifest};
use crate::suite::{ModelDef, ModelKind, Suite};
use crate::tasks::{self, JobContext, SharedModel, Task};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Reports go to `out/<suite>/<run-id>/`.
    pub out: PathBuf,
    pub only_tasks: Vec<String>,
    pub only_models: Vec<String>,
    /// Overrides the suite's seed.
    pub seed: Option<u64>,
    pub resume: bool,
    /// Progress bars on a terminal, log lines elsewhere, or nothing.
    pub display: Display,
    /// Run only shard `k` of `n` (1-based): every n-th job of the plan, starting at the k-th.
    pub shard: Option<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub failed_jobs: Vec<Job>,
}

/// What a running job asks of the engine: its model (loaded once per run), the seed, progress.
struct EngineContext<'a, F: Fn(&str) -> Result<SharedModel, String> + Sync> {
    /// Loads a suite model by id (once per run).
    load: F,
    model_id: &'a str,
    seed: u64,
    progress: JobProgress<'a>,
}

impl<F: Fn(&str) -> Result<SharedModel, String> + Sync> JobContext for EngineContext<'_, F> {
    fn model(&self) -> Result<SharedModel, String> {
        (self.load)(self.model_id)
    }
    fn other_model(&self, id: &str) -> Result<SharedModel, String> {
        (self.load)(id)
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn progress_start(&self, items: u64) {
        self.progress.start(items);
    }
    fn progress_advance(&self, items: u64) {
        self.progress.advance(items);
    }
}

pub fn run_suite(suite: &Suite, opts: &RunOptions) -> Result<RunOutcome, Error> {
    let mut jobs = plan(suite, &opts.only_tasks, &opts.only_models)?;
    if let Some((k, n)) = opts.shard {
        jobs = shard_of(&jobs, k, n);
        if jobs.is_empty() {
            return Err(Error::Usage(format!("shard {k}/{n} has no jobs (the plan has fewer than {k})")));
        }
    }
    let seed = opts.seed.unwrap_or(suite.seed);
    let suite_dir = opts.out.join(&suite.name);
    let run_dir = choose_run_dir(&suite_dir, suite, seed, opts)?;
    // Held until the run has written everything: a second run-suite --resume of this folder is
    // refused, naming this process, instead of mixing its jobs with ours.
    let _lock = store::lock::RunLock::acquire(&run_dir)?;
    let run_id = run_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();

    // Records are read before the manifest is rewritten: a resume refused for a damaged record
    // leaves the run folder as it found it.
    let mut done: HashMap<Job, JobRecord> = HashMap::new();
    for job in &jobs {
        if let Some(record) = jobs::load_done(&run_dir, job)? {
            done.insert(job.clone(), record);
        }
    }
    let mut manifest = new_manifest(suite, seed, &run_id, opts);
    manifest.save(&run_dir)?;
    point_latest(&suite_dir, &run_id)?;
    let pending: Vec<&Job> = jobs.iter().filter(|j| !done.contains_key(j)).collect();

    tracing::info!("run {}: {} jobs of suite {:?} (seed {seed})", run_dir.display(), jobs.len(), suite.name);
    for job in &jobs {
        let state = if done.contains_key(job) { "finished before" } else { "to run" };
        tracing::debug!("planned job {}: {state}", job.key());
    }
    let progress = RunProgress::new(opts.display, jobs.len(), jobs.len() - pending.len());
    let models: HashMap<&str, OnceLock<Result<SharedModel, String>>> =
        suite.models.iter().map(|m| (m.id.as_str(), OnceLock::new())).collect();
    // One object per task for the whole run: the data its jobs share is read once, and
    // finalize compares the models from the same objects.
    let task_objects: Vec<Box<dyn Task + '_>> = tasks::for_suite(suite)?;
    let tasks: HashMap<&str, &dyn Task> = task_objects.iter().map(|t| (t.def().id.as_str(), t.as_ref())).collect();
    let model_cache = run_dir.join("models");

    let run_one = |job: &Job| -> Result<JobRecord, Error> {
        let task = tasks[job.task.as_str()];
        let model_def = suite.model(&job.model).expect("planned");
        let started = Instant::now();
        let ctx = EngineContext {
            load: |id: &str| {
                let (Some(slot), Some(def)) = (models.get(id), suite.model(id)) else {
                    return Err(format!("model {id:?} is not in the suite"));
                };
                slot.get_or_init(|| {
                    let spinner = progress.loading(id);
                    let loaded = logged_load(def, &model_cache);
                    if let Some(spinner) = spinner {
                        spinner.finish_and_clear();
                    }
                    loaded
                })
                .clone()
            },
            model_id: &job.model,
            seed,
            progress: progress.job(&job.key()),
        };
        let output = task.run(model_def, &ctx);
        ctx.progress.end(output.items.as_ref().map(Vec::len).map_err(String::as_str));
        let mut record = match output.items {
            Ok(items) => finished(job, model_def, output.description, items, started),
            Err(e) => failed(job, model_def, e, started),
        };
        record.notes = output.notes;
        jobs::save(&run_dir, &record)?;
        Ok(record)
    };
    // A panic in one job (a bug, or a library's assertion on input we failed to refuse) is that
    // job's failure: the other jobs still run and the run still writes its results.
    let fresh: Vec<Result<JobRecord, Error>> = pending
        .par_iter()
        .map(|job| guarded(job, suite.model(&job.model).expect("planned"), &run_dir, || run_one(job)))
        .collect();
    progress.finish();

    let mut records: Vec<JobRecord> = Vec::with_capacity(jobs.len());
    let mut summaries = Vec::with_capacity(jobs.len());
    let mut fresh_by_job: HashMap<Job, JobRecord> = HashMap::new();
    for r in fresh {
        let r = r?;
        fresh_by_job.insert(Job { task: r.task.clone(), model: r.model.clone() }, r);
    }
    let mut failed_jobs = Vec::new();
    for job in &jobs {
        let (record, resumed) = match done.remove(job) {
            Some(r) => (r, true),
            None => (fresh_by_job.remove(job).expect("every pending job ran"), false),
        };
        if record.status == JobStatus::Failed {
            let error = record.error.as_deref().unwrap_or("unknown error");
            eprintln!("job {} failed: {}", job.key(), crate::store::format::terminal_safe(error));
            failed_jobs.push(job.clone());
        }
        summaries.push(JobSummary {
            task: job.task.clone(),
            model: job.model.clone(),
            status: if record.status == JobStatus::Done { "done".into() } else { "failed".into() },
            seconds: record.seconds,
            items: record.items.len(),
            error: record.error.clone(),
            resumed,
        });
        if let Some(m) = manifest.models.iter_mut().find(|m| m.id == job.model)
            && record.status == JobStatus::Done
        {
            m.description = record.model_description.clone();
        }
        records.push(record);
    }

    manifest.jobs = summaries;
    manifest.status = if failed_jobs.is_empty() { "complete".into() } else { "failed".into() };
    finalize(suite, &task_objects, &run_dir, seed, records, &mut manifest)?;
    Ok(RunOutcome { run_dir, failed_jobs })
}

/// Runs one job; a panic inside it becomes that job's failed record (saved like any other), so
/// the rest of the run goes on and still writes its results.
fn guarded(
    job: &Job,
    def: &ModelDef,
    run_dir: &Path,
    run: impl FnOnce() -> Result<JobRecord, Error>,
) -> Result<JobRecord, Error> {
    let started = Instant::now();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let record = failed(job, def, format!("internal error, please report it: {what}"), started);
            jobs::save(run_dir, &record)?;
            Ok(record)
        }
    }
}

/// The jobs of shard `k` of `n` (1-based), in plan order.
pub fn shard_of(jobs: &[Job], k: usize, n: usize) -> Vec<Job> {
    jobs.iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, j)| j.clone()).collect()
}

/// Aggregates the records (in plan order) through the suite's task objects (`tasks`, in suite
/// order) and writes results, pairwise tests, per-item scores and the manifest; the caller renders
/// the reports from them. Shared by runs and by `lmgauge merge`.
pub fn finalize(
    suite: &Suite,
    tasks: &[Box<dyn Task + '_>],
    run_dir: &Path,
    seed: u64,
    records: Vec<JobRecord>,
    manifest: &mut RunManifest,
) -> Result<(), Error> {
    let done_records: Vec<JobRecord> = records.into_iter().filter(|r| r.status == JobStatus::Done).collect();
    let mut rows = Vec::new();
    let mut tables = TaskTables::default();
    for task in tasks {
        let of_task: Vec<&JobRecord> = done_records.iter().filter(|r| r.task == task.def().id).collect();
        for r in &of_task {
            rows.extend(task.aggregate(r, seed, suite.bootstrap_resamples));
        }
        tables.extend(task.tables(&of_task, seed));
    }
    store::write_results_csv(&rows, &run_dir.join("results.csv"))?;
    store::tables::write_pairwise_csv(&tables.pairwise, &run_dir.join("pairwise.csv"))?;
    if !tables.judges.is_empty() {
        store::tables::write_judges_csv(&tables.judges, &tables.agreement, run_dir)?;
    }
    // Judged pairs (preference) and groups of minimal pairs have per-subset accuracy.
    if !tables.judges.is_empty() || !tables.subsets.is_empty() {
        store::tables::write_subsets(&tables.subsets, &tables.disagreements, run_dir)?;
    }
    if !tables.human.is_empty() {
        store::tables::write_human_agreement(&tables.human, &tables.systems, run_dir)?;
    }
    if !tables.generations.is_empty() {
        store::tables::write_json(&run_dir.join("generations.json"), &tables.generations)?;
    }
    store::write_items_parquet(&done_records, &run_dir.join("items.parquet"))?;
    manifest.finished_unix = Some(unix_now());
    manifest.save(run_dir)
}

/// Combines shard runs of one suite into `out` (a run folder), identical to an unsharded run.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<RunOutcome, Error> {
    if shards.is_empty() {
        return Err(Error::Usage("merge needs at least one shard run folder".into()));
    }
    let manifests: Vec<RunManifest> = shards.iter().map(|d| RunManifest::load(d)).collect::<Result<_, _>>()?;
    let first = &manifests[0];
    for (d, m) in shards.iter().zip(&manifests) {
        if m.suite_hash != first.suite_hash
            || m.seed != first.seed
            || m.only_tasks != first.only_tasks
            || m.only_models != first.only_models
        {
            return Err(Error::Usage(format!(
                "{} is a shard of a different run (suite hash, seed or filters differ from {})",
                d.display(),
                shards[0].display()
            )));
        }
    }
    let suite = tasks::load_suite(Path::new(&first.suite_file))?;
    if suite.hash != first.suite_hash {
        return Err(Error::Usage(format!("{} changed since the shards ran", first.suite_file)));
    }
    let jobs = plan(&suite, &first.only_tasks, &first.only_models)?;
    let mut found: HashMap<Job, (JobRecord, JobSummary)> = HashMap::new();
    for (d, m) in shards.iter().zip(&manifests) {
        for s in &m.jobs {
            let job = Job { task: s.task.clone(), model: s.model.clone() };
            // A failed job has a record too; keep it so the merged run reports it. A record that
            // cannot be read, or one that is damaged, stops the merge with its path.
            let path = jobs::job_dir(d).join(format!("{}.json", job.key()));
            let Some(bytes) = jobs::read_if_present(&path)? else { continue };
            let record = jobs::parse_record(&path, &bytes)?;
            if found.insert(job.clone(), (record, s.clone())).is_some() {
                return Err(Error::Usage(format!("job {} appears in more than one shard", job.key())));
            }
        }
    }
    let missing: Vec<String> = jobs.iter().filter(|j| !found.contains_key(j)).map(Job::key).collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!("the shards do not cover every job; missing: {}", missing.join(", "))));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let _lock = store::lock::RunLock::acquire(out)?;
    let mut manifest = first.clone();
    manifest.run_id = out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    manifest.shard = None;
    manifest.started_unix = manifests.iter().map(|m| m.started_unix).min().unwrap_or(first.started_unix);
    let mut records = Vec::with_capacity(jobs.len());
    let mut summaries = Vec::with_capacity(jobs.len());
    let mut failed_jobs = Vec::new();
    for job in &jobs {
        let (record, summary) = found.remove(job).expect("checked");
        jobs::save(out, &record)?;
        if record.status == JobStatus::Failed {
            failed_jobs.push(job.clone());
        }
        summaries.push(summary);
        records.push(record);
    }
    manifest.jobs = summaries;
    manifest.status = if failed_jobs.is_empty() { "complete".into() } else { "failed".into() };
    let task_objects: Vec<Box<dyn Task + '_>> = tasks::for_suite(&suite)?;
    finalize(&suite, &task_objects, out, first.seed, records, &mut manifest)?;
    Ok(RunOutcome { run_dir: out.to_owned(), failed_jobs })
}

/// A finished job's record; `description` stands in when the suite gives the model none.
fn finished(job: &Job, def: &ModelDef, description: String, items: Vec<ItemScore>, started: Instant) -> JobRecord {
    JobRecord {
        version: JOB_RECORD_VERSION,
        task: job.task.clone(),
        model: job.model.clone(),
        status: JobStatus::Done,
        error: None,
        // Neural models keep what the loader measured (architecture, size, windows, device) beside
        // the suite's words, so the report says plainly what ran.
        model_description: match (&def.description, &def.kind) {
            (Some(d), ModelKind::Neural(_)) => format!("{} — {description}", d.trim()),
            (Some(d), _) => d.clone(),
            (None, _) => description,
        },
        seconds: started.elapsed().as_secs_f64(),
        items,
        notes: Vec::new(),
    }
}

fn failed(job: &Job, def: &ModelDef, error: String, started: Instant) -> JobRecord {
    JobRecord {
        version: JOB_RECORD_VERSION,
        task: job.task.clone(),
        model: job.model.clone(),
        status: JobStatus::Failed,
        error: Some(error),
        model_description: def.description.clone().unwrap_or_default(),
        seconds: started.elapsed().as_secs_f64(),
        items: Vec::new(),
        notes: Vec::new(),
    }
}

/// Loads a model of any kind; trained n-grams are cached in `cache_dir`.
/// [`load_model`], logged: which model, from where, and how long it took.
fn logged_load(def: &ModelDef, cache_dir: &Path) -> Result<SharedModel, String> {
    let started = Instant::now();
    tracing::info!("model {}: loading", def.id);
    let loaded = load_model(def, cache_dir).map_err(|e| e.to_string());
    match &loaded {
        Ok(model) => tracing::info!(
            "model {}: loaded in {}: {}",
            def.id,
            clock(started.elapsed().as_secs_f64()),
            model.describe()
        ),
        Err(e) => tracing::warn!("model {}: could not load: {e}", def.id),
    }
    loaded
}

pub fn load_model(def: &ModelDef, cache_dir: &Path) -> Result<SharedModel, Error> {
    match &def.kind {
        ModelKind::Ngram(def) => Ok(Arc::new(NgramModel::from_def(def, cache_dir)?)),
        ModelKind::Neural(n) => {
            crate::models::neural::load_linked(n.family, &n.path, &n.options).map_err(|e| Error::Model(e.into()))
        }
        ModelKind::Outputs(_) => {
            Err(Error::Usage(format!("model {} holds stored outputs, not a language model", def.id)))
        }
        ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => {
            Err(Error::Usage(format!("model {} is a judge, not a language model", def.id)))
        }
    }
}

fn choose_run_dir(suite_dir: &Path, suite: &Suite, seed: u64, opts: &RunOptions) -> Result<PathBuf, Error> {
    if opts.resume {
        let latest = suite_dir.join("latest");
        if latest.exists() {
            let dir = std::fs::canonicalize(&latest).map_err(|e| Error::io(&latest, e))?;
            let m = RunManifest::load(&dir)?;
            if m.suite_hash != suite.hash {
                return Err(Error::Usage(format!(
                    "cannot resume {}: the suite file changed since that run (hash {} → {}); run without --resume",
                    dir.display(),
                    m.short_hash(),
                    manifest::short_hash(&suite.hash)
                )));
            }
            if m.seed != seed {
                return Err(Error::Usage(format!(
                    "cannot resume {}: it used seed {}, not {seed}",
                    dir.display(),
                    m.seed
                )));
            }
            return Ok(dir);
        }
        eprintln!("nothing to resume in {}: starting a new run", suite_dir.display());
    }
    create_run_dir(suite_dir, &utc_stamp(unix_now()))
}

/// Creates a new run folder `suite_dir/STAMP` (or `STAMP-2`, `STAMP-3`, …): creating it is what
/// claims the name, so two runs started in the same second never share a folder (checking that
/// the name was free, then creating it, let both take the same one).
fn create_run_dir(suite_dir: &Path, stamp: &str) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(suite_dir).map_err(|e| Error::io(suite_dir, e))?;
    for k in 1..=10_000 {
        let candidate = if k == 1 { suite_dir.join(stamp) } else { suite_dir.join(format!("{stamp}-{k}")) };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&candidate, e)),
        }
    }
    Err(Error::Usage(format!("{}: 10,000 runs already started in this second", suite_dir.display())))
}

/// Points `suite_dir/latest` at the run, replacing an older link atomically.
fn point_latest(suite_dir: &Path, run_id: &str) -> Result<(), Error> {
    let latest = suite_dir.join("latest");
    // A name of this process's own: two runs pointing `latest` at once must not share it.
    let tmp = suite_dir.join(format!(".latest.{}.{}.partial", std::process::id(), unix_nanos()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(run_id, &tmp).map_err(|e| Error::io(&tmp, e))?;
    #[cfg(not(unix))]
    std::fs::write(&tmp, run_id).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &latest).map_err(|e| Error::io(&latest, e))
}

fn new_manifest(suite: &Suite, seed: u64, run_id: &str, opts: &RunOptions) -> RunManifest {
    RunManifest {
        version: MANIFEST_VERSION,
        run_id: run_id.to_owned(),
        suite: suite.name.clone(),
        suite_description: suite.description.clone(),
        suite_file: std::fs::canonicalize(&suite.file).unwrap_or_else(|_| suite.file.clone()).display().to_string(),
        suite_hash: suite.hash.clone(),
        seed,
        bootstrap_resamples: suite.bootstrap_resamples,
        status: "running".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        dependencies: manifest::dependency_versions(),
        git_commit: manifest::git_commit(suite.file.parent().unwrap_or(Path::new("."))),
        host: HostInfo::current(),
        started_unix: unix_now(),
        finished_unix: None,
        only_tasks: opts.only_tasks.clone(),
        only_models: opts.only_models.clone(),
        models: suite
            .models
            .iter()
            .map(|m| manifest::ModelInfo {
                id: m.id.clone(),
                kind: m.kind.name().into(),
                description: m.description.clone().unwrap_or_default(),
            })
            .collect(),
        tasks: suite
            .tasks
            .iter()
            .map(|t| manifest::TaskInfo {
                id: t.id.clone(),
                task_type: t.task_type.clone(),
                dataset: t.dataset.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                description: t.description.clone(),
                source: t.source.clone(),
                metrics: t.metrics.iter().map(|m| m.name().to_owned()).collect(),
            })
            .collect(),
        jobs: Vec::new(),
        gate_policy: suite.gates.clone(),
        shard: opts.shard.map(|(k, n)| format!("{k}/{n}")),
    }
}

fn unix_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp(secs: u64) -> String {
    let at = chrono::DateTime::from_timestamp(secs as i64, 0).unwrap_or_default();
    at.format("%Y%m%d-%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_job_becomes_a_failed_record_on_disk() {
        let dir = std::env::temp_dir().join(format!("lmgauge-guard-{}", std::process::id()));
        let job = Job { task: "t".into(), model: "m".into() };
        let def = ModelDef { id: "m".into(), description: None, kind: ModelKind::Length };
        let record =
            guarded(&job, &def, &dir, || panic!("index out of bounds: the len is 3 but the index is 7")).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        assert!(record.error.as_deref().unwrap().contains("internal error, please report it: index out of bounds"));
        let saved: JobRecord =
            serde_json::from_slice(&std::fs::read(jobs::job_dir(&dir).join("t__m.json")).unwrap()).unwrap();
        assert_eq!(saved, record);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn runs_started_together_get_folders_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let made: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..16).map(|_| s.spawn(|| create_run_dir(dir.path(), "20261207-120000").unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let distinct: std::collections::BTreeSet<_> = made.iter().collect();
        assert_eq!(distinct.len(), 16, "{made:?}");
        assert!(made.iter().all(|d| d.is_dir()));
    }

    #[test]
    fn stamps() {
        assert_eq!(super::utc_stamp(0), "19700101-000000");
        assert_eq!(super::utc_stamp(1_796_000_000), "20261130-005320");
    }
}
