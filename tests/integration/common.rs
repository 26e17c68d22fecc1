//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// Runs the lmgauge binary with `args` in `cwd`.
pub fn lmgauge(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lmgauge"))
        .current_dir(cwd)
        .env("CI", "1")
        .args(args)
        .output()
        .expect("lmgauge runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Relative difference, safe at zero.
pub fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()) }
}

/// A temporary folder holding `files` (name → contents).
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, contents) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    dir
}

/// xorshift64*: a tiny deterministic generator, enough to drive mutations.
pub struct Gen(pub u64);
impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A real model under ./models (from `make models`), or `None` with a note that the test
/// skipped; with `LMGAUGE_REQUIRE_MODELS` set a missing model fails the test instead.
pub fn real_model(rel: &str) -> Option<PathBuf> {
    let path = repo().join(rel);
    if path.is_file() {
        return Some(path);
    }
    assert!(std::env::var_os("LMGAUGE_REQUIRE_MODELS").is_none(), "{} is missing: run `make models`", path.display());
    eprintln!("skipped: {} is missing (run `make models`)", path.display());
    None
}

/// A run's `results.json`, checked against `docs/results.schema.json` (every error listed).
pub fn valid_results_json(run_dir: &Path) -> serde_json::Value {
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("docs/results.schema.json")).unwrap()).unwrap();
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let errors: Vec<String> =
        validator.iter_errors(&results).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{}: results.json does not match its schema:\n{}", run_dir.display(), errors.join("\n"));
    results
}

/// Whether libtorch sees a CUDA device. Without one the calling test notes that it skipped; with
/// `LMGAUGE_REQUIRE_CUDA` set (on a GPU machine) a missing device fails the test instead, so a
/// broken CUDA setup cannot pass as "skipped".
#[cfg(feature = "torch")]
pub fn cuda_or_skip(what: &str) -> bool {
    if lmgauge::models::neural::cuda_device_count() > 0 {
        return true;
    }
    assert!(
        std::env::var_os("LMGAUGE_REQUIRE_CUDA").is_none(),
        "LMGAUGE_REQUIRE_CUDA is set but libtorch sees no CUDA device ({what}): check `lmgauge env` and `make setup-cuda`"
    );
    eprintln!("skipped: {what} needs a CUDA device (libtorch sees none)");
    false
}
