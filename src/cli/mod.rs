//! Command-line definitions (clap): one file per subcommand, dispatched from [`run`].

pub mod ngram;

use clap::{Parser, Subcommand};

use crate::error::Error;

#[derive(Debug, Parser)]
#[command(name = "lmgauge", version, about = "Evaluate and compare n-gram, masked and causal language models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train and query KenLM-compatible n-gram models.
    #[command(subcommand)]
    Ngram(ngram::NgramCommand),
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Ngram(cmd) => ngram::run(cmd),
    }
}
