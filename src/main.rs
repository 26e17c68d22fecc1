//! The `lmgauge` binary: parse arguments, run, map the outcome to an exit code
//! (0 success, 1 a gate failed, 2 an error).

use clap::Parser;

fn main() {
    // Rust ignores SIGPIPE, so `lmgauge … | head` would panic on the closed pipe; end quietly
    // instead, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
