//! Log lines on stderr through `tracing`: what a run is doing, for a person and for a CI log.
//! The default level shows jobs starting, advancing and ending and models loading; `-v` adds
//! detail (debug), `-vv` everything (trace), `-q` leaves only errors. Each line carries the
//! seconds since the command started, and prints above any progress bars. Results go to stdout
//! and files, never here, so no level changes a number.

use std::io::Write;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Installs the subscriber once per process; later calls (tests) keep the first.
pub fn init(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::INFO,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_timer(Since(std::time::Instant::now()))
        .with_target(verbose > 1)
        .with_ansi(false)
        .with_writer(AboveBars)
        .try_init();
}

/// Seconds since the command started, to a tenth: enough to read a CI log by.
struct Since(std::time::Instant);

impl FormatTime for Since {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{:>7.1}s", self.0.elapsed().as_secs_f64())
    }
}

/// Writes each log line to stderr with the progress bars moved out of its way.
#[derive(Clone, Copy)]
struct AboveBars;

impl Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Log lines quote model descriptions and paths: no control character reaches the terminal.
        let text = String::from_utf8_lossy(buf);
        let safe = crate::store::format::terminal_safe(&text);
        crate::engine::progress::suspended(|| std::io::stderr().lock().write_all(safe.as_bytes()))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for AboveBars {
    type Writer = AboveBars;
    fn make_writer(&'a self) -> AboveBars {
        *self
    }
}
