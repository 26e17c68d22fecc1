//! The `lmgauge` binary: parse arguments, run, map the outcome to an exit code
//! (0 success, 1 a gate failed, 2 an error).

use clap::Parser;

fn main() {
    let cli = lmgauge::cli::Cli::parse();
    let code = match lmgauge::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let err = anyhow::Error::from(err);
            eprintln!("error: {err:#}");
            2
        }
    };
    std::process::exit(code);
}
