//! `lmgauge show RUN`: a finished run's results in the terminal (or its `results.json`).

use std::path::PathBuf;

use clap::Args;

use super::vocabulary::JsonArg;
use crate::error::Error;
use crate::report::ReportData;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run folder (OUT/<suite>/<run-id> or OUT/<suite>/latest).
    #[arg(value_name = "RUN")]
    pub run_dir: PathBuf,
    /// Print the run's results.json (versioned; docs/results.schema.json) instead of the table.
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: ShowArgs) -> Result<i32, Error> {
    let data = ReportData::load(&args.run_dir)?;
    if args.json.json {
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(&crate::report::results_json::to_bytes(&data));
    } else {
        print!("{}", crate::report::terminal::summary(&data));
    }
    Ok(0)
}
