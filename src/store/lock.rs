//! One writer per run folder. A run (new or resumed) and a merge hold an exclusive lock on
//! `RUN/.lock` while they write the folder; a second process that wants to write the same folder
//! gets an error naming the holder (process id, host, start time) instead of mixing its jobs
//! with the first one's. The operating system drops the lock when its holder exits, however it
//! ends, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::Error;

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Held while a run folder is being written; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Locks `run_dir` for this process, or says who holds it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock, Error> {
        let path = run_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process" } else { holder };
                return Err(Error::Usage(format!(
                    "{} is being written by {holder}: wait for it to end, or start a separate run (without --resume)",
                    run_dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let me = format!(
            "lmgauge process {} on {} (since unix time {})\n",
            std::process::id(),
            super::HostInfo::current().hostname,
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
        );
        let written = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(me.as_bytes()));
        written.map_err(|e| Error::io(&path, e))?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_told_who_holds_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let e = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("is being written by lmgauge process") && e.contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(first);
        RunLock::acquire(dir.path()).expect("released when dropped");
    }
}
