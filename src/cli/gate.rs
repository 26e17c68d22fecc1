//! `lmgauge baseline save`, `lmgauge gate`, `lmgauge history` and `lmgauge merge`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::error::Error;
use crate::gate::{self, GatePolicy};

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Save a finished run as the baseline gates compare against.
    Save(BaselineSaveArgs),
}

#[derive(Debug, Args)]
pub struct BaselineSaveArgs {
    /// The run folder (OUT/<suite>/<run-id> or OUT/<suite>/latest).
    #[arg(value_name = "RUN")]
    pub run_dir: PathBuf,
    /// Where to write it (default baselines/<suite>.json; per-item scores go beside it).
    #[arg(long, alias = "to", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The run folder to judge (OUT/<suite>/<run-id> or OUT/<suite>/latest).
    #[arg(value_name = "RUN")]
    pub run_dir: PathBuf,
    /// The baseline to compare with (`lmgauge baseline save`).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// A YAML file shaped like a suite's `gates:` section; overrides the suite's policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A suite's output folder (OUT/<suite>).
    pub suite_dir: PathBuf,
    /// Where to write the table, .csv or .parquet (default SUITE_DIR/history.csv).
    #[arg(long, alias = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run folders (from `run-suite --shard K/N`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// The merged run folder to create.
    #[arg(long, alias = "out", value_name = "DIR")]
    pub out_dir: PathBuf,
}

pub fn baseline(cmd: BaselineCommand) -> Result<i32, Error> {
    let BaselineCommand::Save(args) = cmd;
    let (json, items) = gate::baseline::save(&args.run_dir, args.output.as_deref())?;
    println!("baseline: {}\nper-item scores: {}", json.display(), items.display());
    Ok(0)
}

pub fn read_policy(path: &Path) -> Result<GatePolicy, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let p: GatePolicy = serde_yaml::from_str(&text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        Error::Usage(format!("{}{at}: {e}", path.display()))
    })?;
    p.check().map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    Ok(p)
}

/// Gates a run and writes its outputs; returns the exit code (0 passed, 1 failed).
pub fn gate_and_report(run_dir: &Path, baseline: &Path, policy: Option<&Path>) -> Result<i32, Error> {
    let policy = policy.map(read_policy).transpose()?;
    let report = gate::gate_run(run_dir, baseline, policy)?;
    gate::output::write(&report, run_dir)?;
    crate::report::render(run_dir)?;
    print!("{}", gate::output::markdown(&report));
    println!("\ngate: {}/gate.md, {}/gate.junit.xml", run_dir.display(), run_dir.display());
    Ok(if report.failed() { 1 } else { 0 })
}

pub fn gate(args: GateArgs) -> Result<i32, Error> {
    gate_and_report(&args.run_dir, &args.baseline, args.policy.as_deref())
}

pub fn history(args: HistoryArgs) -> Result<i32, Error> {
    let runs = crate::store::history::collect(&args.suite_dir)?;
    let out = args.output.unwrap_or_else(|| args.suite_dir.join("history.csv"));
    let rows = crate::store::history::write(&runs, &out)?;
    println!("{} runs, {rows} rows: {}", runs.len(), out.display());
    Ok(0)
}

pub fn merge(args: MergeArgs) -> Result<i32, Error> {
    let outcome = crate::engine::run::merge(&args.shards, &args.out_dir)?;
    crate::report::render(&outcome.run_dir)?;
    println!("merged run: {}", outcome.run_dir.display());
    Ok(if outcome.failed_jobs.is_empty() { 0 } else { 2 })
}
