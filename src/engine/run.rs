//! Running a suite: plan the jobs, run the ones not already finished (jobs and items in
//! parallel with rayon), save each job the moment it ends, then aggregate, store and report.
//!
//! A failing job is recorded with its error while the others still run; the run then ends with
//! exit code 2. Killing the process (Ctrl-C) loses only the jobs in flight: `--resume` picks up
//! the newest run of the suite and recomputes nothing that finished.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::aggregate::aggregate;
use super::cache::{self, ItemScore, JobRecord, JobStatus, JOB_RECORD_VERSION};
use super::plan::{plan, Job};
use super::{generation, preference, reference};
use crate::data::{self, Item};
use crate::error::Error;
use crate::metrics::perplexity::PerplexityCounts;
use crate::metrics::TaskType;
use crate::models::ngram::NgramModel;
use crate::models::LanguageModel;
use crate::store::{self, manifest, HostInfo, JobSummary, RunManifest, MANIFEST_VERSION};
use crate::suite::{ModelDef, ModelKind, Suite, TaskDef};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Reports go to `out/<suite>/<run-id>/`.
    pub out: PathBuf,
    pub only_tasks: Vec<String>,
    pub only_models: Vec<String>,
    /// Overrides the suite's seed.
    pub seed: Option<u64>,
    pub resume: bool,
    /// Show progress bars (only ever on a terminal).
    pub progress: bool,
    /// Run only shard `k` of `n` (1-based): every n-th job of the plan, starting at the k-th.
    pub shard: Option<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub failed_jobs: Vec<Job>,
}

type SharedModel = Arc<dyn LanguageModel>;

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
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io(&run_dir, e))?;
    let run_id = run_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();

    let mut manifest = new_manifest(suite, seed, &run_id, opts);
    manifest.save(&run_dir)?;
    point_latest(&suite_dir, &run_id)?;

    let mut done: HashMap<Job, JobRecord> = HashMap::new();
    for job in &jobs {
        if let Some(record) = cache::load_done(&run_dir, job)? {
            done.insert(job.clone(), record);
        }
    }
    let pending: Vec<&Job> = jobs.iter().filter(|j| !done.contains_key(j)).collect();

    let multi = MultiProgress::with_draw_target(if opts.progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let models: HashMap<&str, OnceLock<Result<SharedModel, String>>> =
        suite.models.iter().map(|m| (m.id.as_str(), OnceLock::new())).collect();
    let datasets: HashMap<&str, OnceLock<Result<Vec<Item>, String>>> =
        suite.tasks.iter().map(|t| (t.id.as_str(), OnceLock::new())).collect();
    let references: HashMap<&str, OnceLock<Result<Vec<Vec<String>>, String>>> =
        suite.tasks.iter().map(|t| (t.id.as_str(), OnceLock::new())).collect();
    type Pairs = Result<(Vec<crate::data::pairs::Pair>, Vec<String>), String>;
    let pairs: HashMap<&str, OnceLock<Pairs>> = suite.tasks.iter().map(|t| (t.id.as_str(), OnceLock::new())).collect();
    let prompts: HashMap<&str, OnceLock<Result<generation::GenerationData, String>>> =
        suite.tasks.iter().map(|t| (t.id.as_str(), OnceLock::new())).collect();
    let model_cache = run_dir.join("models");

    let run_one = |job: &Job| -> Result<JobRecord, Error> {
        let task = suite.task(&job.task).expect("planned");
        let model_def = suite.model(&job.model).expect("planned");
        let started = Instant::now();
        if task.task_type == TaskType::Reference {
            let refs = references[job.task.as_str()].get_or_init(|| reference::load_references(&task.dataset));
            let record = match refs.as_ref().map_err(Clone::clone).and_then(|r| reference::score_outputs(task, model_def, r)) {
                Ok(items) => finished(job, model_def, "stored outputs".into(), items, started),
                Err(e) => failed(job, model_def, e, started),
            };
            cache::save(&run_dir, &record)?;
            return Ok(record);
        }
        if task.task_type == TaskType::Preference {
            let layout = task.preference.expect("preference task");
            let loaded = pairs[job.task.as_str()].get_or_init(|| {
                let r = crate::data::pairs::load_pairs(&task.dataset.path, layout, task.dataset.limit).map_err(|e| e.to_string());
                if let Ok((_, notes)) = &r {
                    for n in notes {
                        eprintln!("{n}");
                    }
                }
                r
            });
            let model: Option<Result<SharedModel, String>> = match model_def.kind {
                ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => None,
                _ => Some(models[job.model.as_str()].get_or_init(|| load_model(model_def, &model_cache).map_err(|e| e.to_string())).clone()),
            };
            let scored = match (loaded, model) {
                (Err(e), _) => Err(e.clone()),
                (_, Some(Err(e))) => Err(e),
                (Ok((ps, _)), m) => {
                    let m = m.and_then(Result::ok);
                    preference::judge(task, model_def, m.as_deref(), ps, seed)
                }
            };
            let mut record = match scored {
                Ok(items) => finished(job, model_def, describe_judge(model_def), items, started),
                Err(e) => failed(job, model_def, e, started),
            };
            if let Ok((_, notes)) = loaded {
                record.notes = notes.clone();
            }
            cache::save(&run_dir, &record)?;
            return Ok(record);
        }
        if task.task_type == TaskType::Generation {
            let loaded = prompts[job.task.as_str()].get_or_init(|| generation::load(task));
            let model = models[job.model.as_str()].get_or_init(|| load_model(model_def, &model_cache).map_err(|e| e.to_string()));
            let record = match (loaded, model) {
                (Ok(d), Ok(m)) => match generation::run(task, m.as_ref(), d) {
                    Ok(items) => finished(job, model_def, m.describe(), items, started),
                    Err(e) => failed(job, model_def, e, started),
                },
                (Err(e), _) | (_, Err(e)) => failed(job, model_def, e.clone(), started),
            };
            cache::save(&run_dir, &record)?;
            return Ok(record);
        }
        let items = datasets[job.task.as_str()].get_or_init(|| data::load(&task.dataset).map_err(|e| e.to_string()));
        let model = models[job.model.as_str()].get_or_init(|| load_model(model_def, &model_cache).map_err(|e| e.to_string()));
        let record = match (items, model) {
            (Ok(items), Ok(model)) => {
                let bar = multi.add(ProgressBar::new(items.len() as u64));
                bar.set_style(ProgressStyle::with_template("{prefix:>24} {bar:30} {pos}/{len} {elapsed}").expect("valid template"));
                bar.set_prefix(job.key());
                let r = run_job(task, model_def, model.as_ref(), items, &bar, started);
                bar.finish_and_clear();
                r
            }
            (Err(e), _) | (_, Err(e)) => failed(job, model_def, e.clone(), started),
        };
        cache::save(&run_dir, &record)?;
        Ok(record)
    };
    // A panic in one job (a bug, or a library's assertion on input we failed to refuse) is that
    // job's failure: the other jobs still run and the run still writes its results.
    let fresh: Vec<Result<JobRecord, Error>> = pending
        .par_iter()
        .map(|job| guarded(job, suite.model(&job.model).expect("planned"), &run_dir, || run_one(job)))
        .collect();

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
            eprintln!("job {} failed: {}", job.key(), record.error.as_deref().unwrap_or("unknown error"));
            failed_jobs.push(job.clone());
        }
        summaries.push(JobSummary {
            task: job.task.clone(),
            model: job.model.clone(),
            status: if record.status == JobStatus::Done { "done".into() } else { "failed".into() },
            seconds: record.seconds,
            items: record.items.len(),
            failed_items: 0,
            error: record.error.clone(),
            resumed,
        });
        if let Some(m) = manifest.models.iter_mut().find(|m| m.id == job.model)
            && record.status == JobStatus::Done {
            m.description = record.model_description.clone();
        }
        records.push(record);
    }

    manifest.jobs = summaries;
    manifest.status = if failed_jobs.is_empty() { "complete".into() } else { "failed".into() };
    finalize(suite, &run_dir, seed, records, &mut manifest)?;
    Ok(RunOutcome { run_dir, failed_jobs })
}

/// Runs one job; a panic inside it becomes that job's failed record (saved like any other), so
/// the rest of the run goes on and still writes its results.
fn guarded(job: &Job, def: &ModelDef, run_dir: &Path, run: impl FnOnce() -> Result<JobRecord, Error>) -> Result<JobRecord, Error> {
    let started = Instant::now();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown panic".into());
            let record = failed(job, def, format!("internal error, please report it: {what}"), started);
            cache::save(run_dir, &record)?;
            Ok(record)
        }
    }
}

/// The jobs of shard `k` of `n` (1-based), in plan order.
pub fn shard_of(jobs: &[Job], k: usize, n: usize) -> Vec<Job> {
    jobs.iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, j)| j.clone()).collect()
}

/// Items per generation task whose prompts, references and outputs the report shows.
const GENERATIONS_SHOWN: usize = 50;

/// Aggregates the records (in plan order) and writes results, pairwise tests, per-item scores,
/// the manifest and the reports. Shared by runs and by `lmgauge merge`.
pub fn finalize(suite: &Suite, run_dir: &Path, seed: u64, records: Vec<JobRecord>, manifest: &mut RunManifest) -> Result<(), Error> {
    let done_records: Vec<JobRecord> = records.into_iter().filter(|r| r.status == JobStatus::Done).collect();
    let mut rows = Vec::new();
    for r in &done_records {
        let task = suite.task(&r.task).expect("planned");
        rows.extend(aggregate(task, r, seed, suite.bootstrap_resamples));
    }
    store::write_results_csv(&rows, &run_dir.join("results.csv"))?;
    let mut pairs = Vec::new();
    for task in suite.tasks.iter().filter(|t| matches!(t.task_type, TaskType::Reference | TaskType::Generation)) {
        let of_task: Vec<&JobRecord> = done_records.iter().filter(|r| r.task == task.id).collect();
        pairs.extend(reference::pairwise(task, &of_task, seed));
    }
    store::write_pairwise_csv(&pairs, &run_dir.join("pairwise.csv"))?;
    let (mut judges, mut agreement, mut subsets, mut disagreements) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for task in suite.tasks.iter().filter(|t| t.task_type == TaskType::Preference) {
        let of_task: Vec<&JobRecord> = done_records.iter().filter(|r| r.task == task.id).collect();
        let (j, a) = preference::judges_and_agreement(task, &of_task);
        judges.extend(j);
        agreement.extend(a);
        // The texts are not in the job records: read the pairs again for subsets and examples.
        if let (Some(layout), false) = (task.preference, of_task.is_empty())
            && let Ok((ps, _)) = crate::data::pairs::load_pairs(&task.dataset.path, layout, task.dataset.limit) {
            let (s, d) = preference::subsets_and_disagreements(task, &of_task, &ps, 10);
            subsets.extend(s);
            disagreements.extend(d);
        }
    }
    if !judges.is_empty() {
        store::write_judges_csv(&judges, &agreement, run_dir)?;
        let mut csv = String::from("task,judge,subset,n,accuracy\n");
        for s in &subsets {
            csv.push_str(&format!("{},{},\"{}\",{},{}\n", s.task, s.judge, s.subset.replace('"', "\"\""), s.n, s.accuracy));
        }
        cache::write_atomic(&run_dir.join("subsets.csv"), csv.as_bytes())?;
        cache::write_atomic(&run_dir.join("subsets.json"), &serde_json::to_vec_pretty(&subsets).expect("serializable"))?;
        cache::write_atomic(&run_dir.join("disagreements.json"), &serde_json::to_vec_pretty(&disagreements).expect("serializable"))?;
    }
    let mut generations = Vec::new();
    for task in suite.tasks.iter().filter(|t| t.task_type == TaskType::Generation) {
        let of_task: Vec<&JobRecord> = done_records.iter().filter(|r| r.task == task.id).collect();
        if let (false, Ok(data)) = (of_task.is_empty(), generation::load(task)) {
            generations.extend(generation::rows(task, &of_task, &data, GENERATIONS_SHOWN));
        }
    }
    if !generations.is_empty() {
        cache::write_atomic(&run_dir.join("generations.json"), &serde_json::to_vec_pretty(&generations).expect("serializable"))?;
    }
    store::write_items_parquet(&done_records, &run_dir.join("items.parquet"))?;
    manifest.finished_unix = Some(unix_now());
    manifest.save(run_dir)?;
    crate::report::render(run_dir)?;
    Ok(())
}

/// Combines shard runs of one suite into `out` (a run folder), identical to an unsharded run.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<RunOutcome, Error> {
    if shards.is_empty() {
        return Err(Error::Usage("merge needs at least one shard run folder".into()));
    }
    let manifests: Vec<RunManifest> = shards.iter().map(|d| RunManifest::load(d)).collect::<Result<_, _>>()?;
    let first = &manifests[0];
    for (d, m) in shards.iter().zip(&manifests) {
        if m.suite_hash != first.suite_hash || m.seed != first.seed || m.only_tasks != first.only_tasks || m.only_models != first.only_models {
            return Err(Error::Usage(format!("{} is a shard of a different run (suite hash, seed or filters differ from {})", d.display(), shards[0].display())));
        }
    }
    let suite = crate::suite::load_suite(Path::new(&first.suite_file))?;
    if suite.hash != first.suite_hash {
        return Err(Error::Usage(format!("{} changed since the shards ran", first.suite_file)));
    }
    let jobs = plan(&suite, &first.only_tasks, &first.only_models)?;
    let mut found: HashMap<Job, (JobRecord, JobSummary)> = HashMap::new();
    for (d, m) in shards.iter().zip(&manifests) {
        for s in &m.jobs {
            let job = Job { task: s.task.clone(), model: s.model.clone() };
            let record = cache::load_done(d, &job)?.or_else(|| {
                // A failed job has a record too; keep it so the merged run reports it.
                std::fs::read(cache::job_dir(d).join(format!("{}.json", job.key()))).ok().and_then(|b| serde_json::from_slice(&b).ok())
            });
            let Some(record) = record else { continue };
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
    let mut manifest = first.clone();
    manifest.run_id = out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    manifest.shard = None;
    manifest.started_unix = manifests.iter().map(|m| m.started_unix).min().unwrap_or(first.started_unix);
    let mut records = Vec::with_capacity(jobs.len());
    let mut summaries = Vec::with_capacity(jobs.len());
    let mut failed_jobs = Vec::new();
    for job in &jobs {
        let (record, summary) = found.remove(job).expect("checked");
        cache::save(out, &record)?;
        if record.status == JobStatus::Failed {
            failed_jobs.push(job.clone());
        }
        summaries.push(summary);
        records.push(record);
    }
    manifest.jobs = summaries;
    manifest.status = if failed_jobs.is_empty() { "complete".into() } else { "failed".into() };
    finalize(&suite, out, first.seed, records, &mut manifest)?;
    Ok(RunOutcome { run_dir: out.to_owned(), failed_jobs })
}

fn run_job(task: &TaskDef, def: &ModelDef, model: &dyn LanguageModel, items: &[Item], bar: &ProgressBar, started: Instant) -> JobRecord {
    let scored: Result<Vec<ItemScore>, String> = match task.task_type {
        TaskType::Perplexity => score_perplexity(&def.id, &task.dataset.path, model, items, bar),
        TaskType::Reference | TaskType::Preference | TaskType::Generation => Err("not a perplexity task".into()),
    };
    let job = Job { task: task.id.clone(), model: def.id.clone() };
    match scored {
        Ok(items) => finished(&job, def, model.describe(), items, started),
        Err(e) => failed(&job, def, e, started),
    }
}

/// Scores items in chunks (neural models batch within a chunk; the bar moves per chunk). A failing
/// chunk is retried item by item so that the error names the item.
fn score_perplexity(model_id: &str, dataset: &Path, model: &dyn LanguageModel, items: &[Item], bar: &ProgressBar) -> Result<Vec<ItemScore>, String> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(PERPLEXITY_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|i| i.text.as_str()).collect();
        let scores = match model.score_batch(&texts) {
            Ok(s) => s,
            Err(batch_error) => {
                for item in chunk {
                    model.score_tokens(&item.text).map_err(|e| format!("item {} (line {}): {e}", item.id, item.line))?;
                }
                return Err(batch_error.to_string());
            }
        };
        for (item, s) in chunk.iter().zip(scores) {
            s.check_finite(model_id, &item.location(dataset))?;
            let c = PerplexityCounts::from_scores(&item.text, &s);
            let mut scores: std::collections::BTreeMap<String, f64> =
                [("nll", c.nll), ("tokens", c.tokens), ("words", c.words), ("bytes", c.bytes), ("oov", s.oov as f64)]
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect();
            if s.pseudo {
                scores.insert(super::aggregate::PSEUDO_MARK.into(), 1.0);
            }
            out.push(ItemScore { id: item.id.clone(), scores, output: None });
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(out)
}

const PERPLEXITY_CHUNK: usize = 256;

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

fn describe_judge(def: &ModelDef) -> String {
    match def.kind {
        ModelKind::Length => "baseline judge: the longer response wins".into(),
        ModelKind::Random => "baseline judge: a seeded coin flip".into(),
        ModelKind::MetricJudge(m) => format!("reference-metric judge: {} of each response against the reference", m.name()),
        _ => def.id.clone(),
    }
}

/// Loads a model of any kind; trained n-grams are cached in `cache_dir`.
pub fn load_model(def: &ModelDef, cache_dir: &Path) -> Result<SharedModel, Error> {
    match &def.kind {
        ModelKind::Ngram(source) => Ok(Arc::new(NgramModel::load(source, cache_dir)?)),
        ModelKind::Neural(n) => crate::models::neural::load(n.family, &n.path, &n.options).map_err(|e| Error::Model(e.into())),
        ModelKind::Outputs(_) => Err(Error::Usage(format!("model {} holds stored outputs, not a language model", def.id))),
        ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => Err(Error::Usage(format!("model {} is a judge, not a language model", def.id))),
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
                    dir.display(), m.short_hash(), manifest::short_hash(&suite.hash)
                )));
            }
            if m.seed != seed {
                return Err(Error::Usage(format!("cannot resume {}: it used seed {}, not {seed}", dir.display(), m.seed)));
            }
            return Ok(dir);
        }
        eprintln!("nothing to resume in {}: starting a new run", suite_dir.display());
    }
    let base = utc_stamp(unix_now());
    let mut candidate = suite_dir.join(&base);
    let mut k = 2;
    while candidate.exists() {
        candidate = suite_dir.join(format!("{base}-{k}"));
        k += 1;
    }
    Ok(candidate)
}

/// Points `suite_dir/latest` at the run, replacing an older link atomically.
fn point_latest(suite_dir: &Path, run_id: &str) -> Result<(), Error> {
    let latest = suite_dir.join("latest");
    let tmp = suite_dir.join(".latest.partial");
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
            .map(|m| manifest::ModelInfo { id: m.id.clone(), kind: m.kind.name().into(), description: m.description.clone().unwrap_or_default() })
            .collect(),
        tasks: suite
            .tasks
            .iter()
            .map(|t| manifest::TaskInfo {
                id: t.id.clone(),
                task_type: t.task_type.name().into(),
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `YYYYMMDD-HHMMSS` in UTC (Howard Hinnant's civil-from-days).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, (rem / 60) % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_job_becomes_a_failed_record_on_disk() {
        let dir = std::env::temp_dir().join(format!("lmgauge-guard-{}", std::process::id()));
        let job = Job { task: "t".into(), model: "m".into() };
        let def = ModelDef { id: "m".into(), description: None, kind: ModelKind::Length };
        let record = guarded(&job, &def, &dir, || panic!("index out of bounds: the len is 3 but the index is 7")).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        assert!(record.error.as_deref().unwrap().contains("internal error, please report it: index out of bounds"));
        let saved: JobRecord = serde_json::from_slice(&std::fs::read(cache::job_dir(&dir).join("t__m.json")).unwrap()).unwrap();
        assert_eq!(saved, record);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stamps() {
        assert_eq!(super::utc_stamp(0), "19700101-000000");
        assert_eq!(super::utc_stamp(1_796_000_000), "20261130-005320");
    }
}
