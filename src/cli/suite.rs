//! `lmgauge validate`, `lmgauge run-suite` and `lmgauge report`.

use std::path::PathBuf;

use clap::Args;

use crate::engine::{RunOptions, run_suite};
use crate::error::Error;
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
    /// Suite file (default: suites/quick.yaml).
    #[arg(default_value = DEFAULT_SUITE)]
    pub suite: PathBuf,
    /// Output folder; the run goes to OUT/<suite>/<run-id>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Run only these tasks (comma separated ids).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run only these models (comma separated ids).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Override the suite's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue the newest run of this suite, skipping finished jobs.
    #[arg(long)]
    pub resume: bool,
    /// Never draw progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Run only shard K of N (e.g. 2/4): a deterministic slice of the jobs; combine with `lmgauge merge`.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Gate the finished run against this baseline (exit 1 on a regression).
    #[arg(long)]
    pub gate: Option<PathBuf>,
    /// Gate policy file overriding the suite's `gates:` section.
    #[arg(long, requires = "gate")]
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

pub fn run(args: RunSuiteArgs) -> Result<i32, Error> {
    let suite = load_suite(&args.suite)?;
    let opts = RunOptions {
        out: args.out,
        only_tasks: args.only,
        only_models: args.models,
        seed: args.seed,
        resume: args.resume,
        progress: !args.quiet,
        shard: args.shard,
    };
    let outcome = run_suite(&suite, &opts)?;
    crate::report::render(&outcome.run_dir)?;
    let dir = outcome.run_dir.display();
    println!("report: {dir}/index.html");
    println!("summary: {dir}/summary.md");
    println!("results: {dir}/results.csv");
    if outcome.failed_jobs.is_empty() {
        match &args.gate {
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
