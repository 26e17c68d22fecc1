//! Memory-mapped model files (binary n-gram files, GGUF, safetensors) that end in a clear error,
//! not a SIGBUS, when another process shrinks the file while lmgauge reads it.
//!
//! Reading a page of a mapping past the end of a file that was truncated after it was mapped
//! raises SIGBUS, which kills the process without a word (a binary n-gram file rewritten in place
//! during a run did exactly that). Every mapping made here registers its address range; a SIGBUS
//! handler that finds the faulting address inside a registered range writes
//! `lmgauge: FILE changed size while it was in use …` to stderr and exits with code 2, the exit
//! code of every other error. Faults anywhere else go to the handler that was installed before
//! (the Rust runtime's, or the default action), exactly as if this one did not exist. Job records
//! already written stay on disk, so `run-suite --resume` continues the run.
//!
//! The handler only reads atomics and calls `write` and `_exit`, which are async-signal-safe.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Mappings guarded at once; a process holds a few models, so one past this is left unguarded.
const SLOTS: usize = 256;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    message: AtomicPtr<u8>,
    message_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    message: AtomicPtr::new(std::ptr::null_mut()),
    message_len: AtomicUsize::new(0),
};

static REGISTRY: [Slot; SLOTS] = [EMPTY_SLOT; SLOTS];
static INSTALL: Once = Once::new();
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();

/// A read-only memory map of a file, guarded as the module documentation describes.
pub struct Mapped {
    map: memmap2::Mmap,
    slot: Option<usize>,
}

impl Mapped {
    /// Maps `file` (read from `path`); `populate` faults every page in at once.
    pub fn open(file: &File, path: &Path, populate: bool) -> io::Result<Mapped> {
        let mut options = memmap2::MmapOptions::new();
        if populate {
            options.populate();
        }
        // SAFETY: the map is read-only. A file changed under it can change the bytes read but not
        // memory safety (every read is bounds-checked); a file shrunk under it raises SIGBUS,
        // which the guard turns into an error exit.
        let map = unsafe { options.map(file) }?;
        let slot = register(&map, path);
        Ok(Mapped { map, slot })
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let slot = &REGISTRY[i];
            // The range goes first, so no fault can match this slot any more; no fault can be
            // reading its message either, since nothing borrows the map while it is dropped.
            slot.end.store(0, Ordering::SeqCst);
            let message = slot.message.swap(std::ptr::null_mut(), Ordering::SeqCst);
            let len = slot.message_len.swap(0, Ordering::SeqCst);
            if !message.is_null() {
                // SAFETY: `register` made this pointer and length from a leaked boxed slice.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(message, len)) });
            }
            // Last: the slot is free for the next mapping only once it is empty.
            slot.start.store(0, Ordering::SeqCst);
        }
    }
}

fn register(map: &memmap2::Mmap, path: &Path) -> Option<usize> {
    if map.is_empty() {
        return None;
    }
    INSTALL.call_once(install);
    let message = format!(
        "lmgauge: {} changed size while it was in use (truncated or rewritten in place by another program?); stopped. \
         Replace a model file in use by writing a new file and renaming it over the old one, then run again \
         (run-suite --resume keeps the jobs already finished).\n",
        path.display()
    );
    let start = map.as_ptr() as usize;
    for (i, slot) in REGISTRY.iter().enumerate() {
        if slot.start.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            // Freed when the map is dropped (`Drop for Mapped`).
            let message: &'static mut [u8] = Box::leak(message.into_bytes().into_boxed_slice());
            slot.message.store(message.as_mut_ptr(), Ordering::SeqCst);
            slot.message_len.store(message.len(), Ordering::SeqCst);
            slot.end.store(start + map.len(), Ordering::SeqCst);
            return Some(i);
        }
    }
    None
}

fn install() {
    // SAFETY: plain sigaction calls; PREVIOUS is written once, here, before the handler that
    // reads it can run.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let previous = &raw mut PREVIOUS;
        libc::sigaction(libc::SIGBUS, &action, (*previous).as_mut_ptr());
    }
}

extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler; only atomics, write and
    // _exit are used below.
    unsafe {
        let address = (*info).si_addr() as usize;
        for slot in &REGISTRY {
            let (start, end) = (slot.start.load(Ordering::SeqCst), slot.end.load(Ordering::SeqCst));
            if start != 0 && (start..end).contains(&address) {
                let (message, len) = (slot.message.load(Ordering::SeqCst), slot.message_len.load(Ordering::SeqCst));
                if !message.is_null() && len > 0 {
                    libc::write(2, message as *const libc::c_void, len);
                }
                libc::_exit(2);
            }
        }
        // Not ours: the handler that was there before takes the fault when it repeats.
        let previous = &raw const PREVIOUS;
        libc::sigaction(signal, (*previous).as_ptr(), std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "LMGAUGE_TEST_MAPPED_CHILD";

    /// Runs in a child process (this test binary again): maps a file, truncates it and reads a
    /// page past the new end, which must end the process with code 2 and the message.
    #[test]
    fn a_file_truncated_while_mapped_ends_in_a_clear_error() {
        if let Ok(path) = std::env::var(CHILD) {
            let path = Path::new(&path);
            let file = File::open(path).unwrap();
            let map = Mapped::open(&file, path, true).unwrap();
            std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(0).unwrap();
            let byte = std::hint::black_box(&map[map.len() / 2]);
            println!("read {byte} from a truncated file");
            std::process::exit(0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "models::mapped::tests::a_file_truncated_while_mapped_ends_in_a_clear_error"])
            .args(["--test-threads", "1", "--nocapture"])
            .env(CHILD, &path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("model.bin changed size while it was in use"), "{err}");
    }

    #[test]
    fn faults_outside_a_guarded_map_are_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, [1u8; 4096]).unwrap();
        let map = Mapped::open(&File::open(&path).unwrap(), &path, false).unwrap();
        let slot = map.slot.expect("registered");
        assert_eq!(REGISTRY[slot].start.load(Ordering::SeqCst), map.as_ptr() as usize);
        drop(map);
        assert_eq!(REGISTRY[slot].start.load(Ordering::SeqCst), 0);
    }
}
