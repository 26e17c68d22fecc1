//! libFuzzer target: arbitrary bytes as a `.jsonl.gz` dataset (and as plain `.jsonl`) through the
//! bounded line reader and the likelihood-comparison JSONL reader (text and label fields).
//! Corrupt gzip, bombs past the ratio bound and over-long lines must end as errors naming the
//! file; nothing may panic or allocate beyond the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::data::lines::Lines;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("lmgauge-fuzz-gzip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["d.jsonl.gz", "d.jsonl"] {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        if let Ok(mut lines) = Lines::open(&path) {
            let mut last = 0;
            loop {
                match lines.next_line() {
                    Ok(Some((n, line))) => {
                        assert!(n > last && line.len() <= lmgauge::data::lines::MAX_LINE_BYTES);
                        last = n;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.to_string().contains(name));
                        break;
                    }
                }
            }
        }
        let _ = lmgauge::tasks::jsonl::read(&path, None, None, |r| {
            Ok((r.text("context", true)?, r.label("subject")?))
        });
        std::fs::remove_file(&path).unwrap();
    }
});
