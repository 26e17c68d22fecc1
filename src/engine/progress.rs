//! Progress of a run, for a person at a terminal and for a CI log.
//!
//! On a terminal (and not under `CI`) each running job has an indicatif bar (items, rate, ETA)
//! under an overall bar of finished jobs; log lines print above the bars ([`suspended`]). When
//! stderr is not a terminal, bars would be noise or nothing, so the run writes log lines instead
//! (through `tracing`, which the command line sets up): one when a job starts, one every
//! [`LINE_EVERY`] while it runs (items, rate, ETA, jobs finished; `-v`: every batch), and one when
//! it ends. `-q` silences both; the results never depend on either.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a job in a non-terminal log says how far it is.
pub const LINE_EVERY: Duration = Duration::from_secs(10);

/// How a run shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Display {
    /// Bars on a terminal, log lines elsewhere.
    #[default]
    Auto,
    /// Nothing (`-q`).
    Quiet,
}

/// The bars being drawn, if any, so that log lines can print above them.
static ACTIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Runs `print` with the bars (if any are drawn) out of the way; the log writer goes through here.
pub fn suspended<R>(print: impl FnOnce() -> R) -> R {
    let bars = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bars {
        Some(multi) => multi.suspend(print),
        None => print(),
    }
}

/// The progress of one run: its jobs and the run as a whole.
pub struct RunProgress {
    bars: Option<(MultiProgress, ProgressBar)>,
    lines: bool,
    jobs: usize,
    finished: AtomicUsize,
}

impl RunProgress {
    /// Progress of a run of `jobs` jobs, `resumed` of which finished before.
    pub fn new(display: Display, jobs: usize, resumed: usize) -> RunProgress {
        let terminal = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bars = (display == Display::Auto && terminal).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(jobs as u64));
            overall.set_style(
                ProgressStyle::with_template("{prefix:>28} {bar:30.green} {pos}/{len} jobs  {elapsed_precise}")
                    .expect("valid template"),
            );
            overall.set_prefix("run");
            overall.set_position(resumed as u64);
            *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(multi.clone());
            (multi, overall)
        });
        let lines = display != Display::Quiet && bars.is_none();
        if lines && resumed > 0 {
            tracing::info!("{resumed} of {jobs} jobs finished before; resuming the other {}", jobs - resumed);
        }
        RunProgress { bars, lines, jobs, finished: AtomicUsize::new(resumed) }
    }

    /// A job begins.
    pub fn job(&self, key: &str) -> JobProgress<'_> {
        if self.lines {
            tracing::info!(
                "job {key}: started ({} of {} jobs finished)",
                self.finished.load(Ordering::Relaxed),
                self.jobs
            );
        }
        JobProgress {
            run: self,
            key: key.to_owned(),
            bar: OnceLock::new(),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// A spinner while a model loads (on a terminal; log lines say the rest); dropped or finished
    /// by the caller when the model is ready.
    pub fn loading(&self, model: &str) -> Option<ProgressBar> {
        let (multi, overall) = self.bars.as_ref()?;
        let spinner = multi.insert_before(overall, ProgressBar::new_spinner());
        spinner
            .set_style(ProgressStyle::with_template("{prefix:>28} {spinner} {msg} {elapsed}").expect("valid template"));
        spinner.set_prefix(model.to_owned());
        spinner.set_message("loading");
        spinner.enable_steady_tick(Duration::from_millis(120));
        Some(spinner)
    }

    /// Removes the bars; later log lines print plainly.
    pub fn finish(&self) {
        if let Some((_, overall)) = &self.bars {
            overall.finish_and_clear();
            *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

impl Drop for RunProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The progress of one job: how many of its items are scored.
pub struct JobProgress<'a> {
    run: &'a RunProgress,
    key: String,
    bar: OnceLock<ProgressBar>,
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    last_line: Mutex<Instant>,
}

impl JobProgress<'_> {
    /// The job will score `items` items.
    pub fn start(&self, items: u64) {
        self.total.store(items, Ordering::Relaxed);
        if let Some((multi, overall)) = &self.run.bars {
            let bar = multi.insert_before(overall, ProgressBar::new(items));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>28} {bar:30} {pos}/{len} {per_sec} ETA {eta}")
                    .expect("valid template"),
            );
            bar.set_prefix(self.key.clone());
            let _ = self.bar.set(bar);
        }
    }

    /// `items` more are scored; a log line at most every [`LINE_EVERY`].
    pub fn advance(&self, items: u64) {
        let done = self.done.fetch_add(items, Ordering::Relaxed) + items;
        if let Some(bar) = self.bar.get() {
            bar.inc(items);
        }
        if !self.run.lines {
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < LINE_EVERY && !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        *last = Instant::now();
        let total = self.total.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(1e-9);
        let eta = if rate > 0.0 { total.saturating_sub(done) as f64 / rate } else { f64::NAN };
        tracing::info!(
            "job {}: {done}/{total} items ({:.1}%), {rate:.1} items/s, ETA {}",
            self.key,
            100.0 * done as f64 / total.max(1) as f64,
            clock(eta)
        );
    }

    /// The job ended: `Ok(items)` scored, or the error it failed with.
    pub fn end(self, outcome: Result<usize, &str>) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
        let finished = self.run.finished.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((_, overall)) = &self.run.bars {
            overall.inc(1);
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let (jobs, key) = (self.run.jobs, &self.key);
        match outcome {
            Ok(items) if self.run.lines => {
                tracing::info!(
                    "job {key}: done, {items} items in {} ({finished} of {jobs} jobs finished)",
                    clock(seconds)
                )
            }
            Err(error) if self.run.lines || self.run.bars.is_some() => {
                tracing::warn!("job {key}: failed after {}: {error}", clock(seconds))
            }
            _ => {}
        }
    }
}

/// `1h02m03s`, `2m03s` or `3.2s`; `?` when unknown.
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{seconds:.1}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_people_write_them() {
        assert_eq!(clock(3.24), "3.2s");
        assert_eq!(clock(123.0), "2m03s");
        assert_eq!(clock(3723.0), "1h02m03s");
        assert_eq!(clock(f64::NAN), "?");
    }
}
