//! Command-line definitions (clap): one file per subcommand, dispatched from [`run`].

pub mod chat;
pub mod env;
pub mod gate;
pub mod generate;
pub mod launch;
pub mod logging;
pub mod models;
pub mod ngram;
pub mod perplexity;
pub mod prompt;
pub mod reference;
pub mod show;
pub mod suite;
pub mod vocabulary;

use clap::{Parser, Subcommand};

use crate::error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "lmgauge",
    version = env!("LMGAUGE_LONG_VERSION"),
    about = "Evaluate and compare n-gram, masked and causal language models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only results and errors: no progress bars, no log lines.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log more: the planned jobs and every batch a job finishes (not only every 10 s); -vv adds
    /// the source of each line.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a suite file without running anything.
    Validate(suite::ValidateArgs),
    /// Run a suite: every task × model job, then results, report and summary.
    RunSuite(suite::RunSuiteArgs),
    /// Re-render index.html, summary.md and results.json of a finished run from its stored results.
    Report(suite::ReportArgs),
    /// Print a finished run's results as a table (or its results.json with --json).
    Show(show::ShowArgs),
    /// Corpus or sentence BLEU, identical to sacrebleu (paired tests with --paired-bs/--paired-ar).
    Bleu(reference::BleuArgs),
    /// chrF / chrF++ identical to sacrebleu.
    Chrf(reference::ChrfArgs),
    /// ROUGE-1/2/L/Lsum identical to Google's rouge_score, with bootstrap intervals.
    Rouge(reference::RougeArgs),
    /// Baselines for regression gates.
    #[command(subcommand)]
    Baseline(gate::BaselineCommand),
    /// Compare a run with a baseline: Improved / Regressed / WithinNoise per metric; exit 1 on a regression.
    Gate(gate::GateArgs),
    /// Collect every run of a suite into one table (CSV or Parquet).
    History(gate::HistoryArgs),
    /// Combine shard runs (`run-suite --shard K/N`) into one run.
    Merge(gate::MergeArgs),
    /// Perplexity of a text file under one model (token, word, byte perplexity, bits per byte).
    Perplexity(perplexity::PerplexityArgs),
    /// Continue a prompt (or each line of a file) with an n-gram or causal LM.
    Generate(generate::GenerateArgs),
    /// What this build can load (architectures, GGUF tensor types), or what a model file holds.
    Models(models::ModelsArgs),
    /// Render a conversation with a model's chat template (or a template file): what a `chat: true` model is given.
    ChatTemplate(chat::ChatTemplateArgs),
    /// Print the exact text a suite's model is given for one item (few-shot examples and chat template applied).
    ShowPrompt(prompt::ShowPromptArgs),
    /// What will run where: build, libtorch flavour, CUDA devices and memory, threads, BLAS, models.
    Env(env::EnvArgs),
    /// Train and query KenLM-compatible n-gram models.
    #[command(subcommand)]
    Ngram(ngram::NgramCommand),
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Ngram(cmd) => ngram::run(cmd),
        Command::Perplexity(args) => perplexity::run(args),
        Command::Models(args) => models::run(args),
        Command::ChatTemplate(args) => chat::run(args),
        Command::ShowPrompt(args) => prompt::run(args),
        Command::Env(args) => env::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Bleu(args) => reference::bleu(args),
        Command::Chrf(args) => reference::chrf(args),
        Command::Rouge(args) => reference::rouge(args),
        Command::Validate(args) => suite::validate(args),
        Command::Baseline(cmd) => gate::baseline(cmd),
        Command::Gate(args) => gate::gate(args),
        Command::History(args) => gate::history(args),
        Command::Merge(args) => gate::merge(args),
        Command::RunSuite(args) => suite::run(args, quiet),
        Command::Report(args) => suite::report(args),
        Command::Show(args) => show::run(args),
    }
}
