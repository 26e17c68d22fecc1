//! libFuzzer target: the files of a run folder and a baseline as a hand edit or a crash could
//! leave them: `run.json` (then its display hash), a job record, a baseline's JSON and its
//! gzip-compressed per-item scores (decompression bounded). Input: four parts split by 0xFF.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lmgauge::store::jobs;
use lmgauge::gate::baseline;
use lmgauge::store::RunManifest;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let mut next = || parts.next().unwrap_or(&[]);
    if let Ok(m) = RunManifest::parse(Path::new("run.json"), next()) {
        assert_eq!(m.short_hash().len(), 12);
    }
    let _ = jobs::parse_record(Path::new("jobs/t__m.json"), next());
    let _ = baseline::parse(Path::new("base.json"), next());
    let _ = baseline::parse_items(Path::new("base.items.json.gz"), next());
});
