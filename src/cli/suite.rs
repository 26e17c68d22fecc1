//! `lmgauge validate`, `lmgauge run-suite` and `lmgauge report`.

use std::path::PathBuf;

use clap::Args;

use super::vocabulary::parse_device;
use crate::engine::{Display, RunOptions, run_suite};
use crate::error::Error;
use crate::models::neural::DeviceChoice;
use crate::tasks::load_suite;

/// The suite `make run` uses when none is given; shipped in the repository.
pub const DEFAULT_SUITE: &str = "suites/quick.yaml";

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Suite file to check.
    pub suite: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunSuiteArgs {
    /// Suite file.
    #[arg(default_value = DEFAULT_SUITE)]
    pub suite: PathBuf,
    /// Output folder; the run goes to DIR/<suite>/<run-id>/.
    #[arg(long, alias = "out", default_value = "reports", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Run only these tasks (comma separated ids).
    #[arg(long, alias = "only", value_delimiter = ',', value_name = "ID,...")]
    pub tasks: Vec<String>,
    /// Run only these models (comma separated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub models: Vec<String>,
    /// Seed of every random choice, instead of the suite's `seed:` (12345 when the suite has none).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run every model that goes through libtorch on this device instead of its `device:` key
    /// (GGUF files computed quantized stay on the CPU). Not part of the suite's hash.
    #[arg(long, value_parser = parse_device, value_name = "auto|cpu|cuda|cuda:N")]
    pub device: Option<DeviceChoice>,
    /// Continue the newest run of this suite, skipping finished jobs.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard K of N (e.g. 2/4): a deterministic slice of the jobs; combine with `lmgauge merge`.
    #[arg(long, value_parser = parse_shard, value_name = "K/N")]
    pub shard: Option<(usize, usize)>,
    /// Gate the finished run against this baseline (`lmgauge baseline save`); exit 1 on a regression.
    #[arg(long, alias = "gate", value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Gate policy file overriding the suite's `gates:` section.
    #[arg(long, requires = "baseline", value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 1/4")?;
    let (k, n): (usize, usize) =
        (k.parse().map_err(|_| "K must be a number")?, n.parse().map_err(|_| "N must be a number")?);
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 ≤ K ≤ N"));
    }
    Ok((k, n))
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run folder (OUT/<suite>/<run-id> or OUT/<suite>/latest).
    #[arg(value_name = "RUN")]
    pub run_dir: PathBuf,
}

pub fn validate(args: ValidateArgs) -> Result<i32, Error> {
    let suite = load_suite(&args.suite)?;
    let jobs: usize = suite.tasks.iter().map(|t| t.models.len()).sum();
    println!(
        "{}: suite {:?} is valid ({} models, {} tasks, {} jobs)",
        args.suite.display(),
        suite.name,
        suite.models.len(),
        suite.tasks.len(),
        jobs
    );
    Ok(0)
}

pub fn run(args: RunSuiteArgs, quiet: bool) -> Result<i32, Error> {
    let mut suite = load_suite(&args.suite)?;
    if let Some(device) = args.device {
        let moved = suite.override_device(device);
        tracing::info!(
            "--device {device}: {}",
            if moved.is_empty() { "no model runs through libtorch".into() } else { moved.join(", ") }
        );
    }
    let opts = RunOptions {
        out: args.out_dir,
        only_tasks: args.tasks,
        only_models: args.models,
        seed: args.seed,
        resume: args.resume,
        display: if quiet { Display::Quiet } else { Display::Auto },
        shard: args.shard,
    };
    let outcome = run_suite(&suite, &opts)?;
    crate::report::render(&outcome.run_dir)?;
    let dir = outcome.run_dir.display();
    println!("report: {dir}/index.html");
    println!("summary: {dir}/summary.md");
    println!("results: {dir}/results.csv");
    if outcome.failed_jobs.is_empty() {
        match &args.baseline {
            Some(baseline) => crate::cli::gate::gate_and_report(&outcome.run_dir, baseline, args.policy.as_deref()),
            None => Ok(0),
        }
    } else {
        eprintln!(
            "{} job(s) failed; fix the cause and rerun with --resume to compute only those",
            outcome.failed_jobs.len()
        );
        Ok(2)
    }
}

pub fn report(args: ReportArgs) -> Result<i32, Error> {
    crate::report::render(&args.run_dir)?;
    println!("report: {}/index.html", args.run_dir.display());
    Ok(0)
}
