//! libFuzzer target: arbitrary bytes as a suite file through YAML parsing (alias expansion
//! bounded), per-entry schema checks with field paths, and validation. Any panic, overflow or
//! allocation past the limit is a bug; every refusal must be a `SuiteError` with positions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("/nonexistent/fuzz/suite.yaml");
    if let Err(e) = lmgauge::tasks::parse_suite(path, data) {
        assert!(!e.diagnostics.is_empty());
        assert!(e.diagnostics.iter().all(|d| d.line >= 1 && d.column >= 1));
    }
});
