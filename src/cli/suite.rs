//! `lmgauge validate`, `lmgauge run-suite` and `lmgauge report`.

use std::path::PathBuf;

use clap::Args;

use crate::engine::{run_suite, RunOptions};
use crate::error::Error;
use crate::suite::load_suite;

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
    };
    let outcome = run_suite(&suite, &opts)?;
    let dir = outcome.run_dir.display();
    println!("report: {dir}/index.html");
    println!("summary: {dir}/summary.md");
    println!("results: {dir}/results.csv");
    if outcome.failed_jobs.is_empty() {
        Ok(0)
    } else {
        eprintln!("{} job(s) failed; fix the cause and rerun with --resume to compute only those", outcome.failed_jobs.len());
        Ok(2)
    }
}

pub fn report(args: ReportArgs) -> Result<i32, Error> {
    crate::report::render(&args.run_dir)?;
    println!("report: {}/index.html", args.run_dir.display());
    Ok(0)
}
