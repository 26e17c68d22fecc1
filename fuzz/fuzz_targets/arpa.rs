//! libFuzzer target: arbitrary bytes through the ARPA parser and, when they parse, through the
//! query tables and scoring. Any panic, overflow or unbounded allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::models::ngram::arpa::parse_arpa;
use lmgauge::models::ngram::QueryLm;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = parse_arpa(std::path::Path::new("fuzz.arpa"), data) {
        let lm = QueryLm::new(&model);
        let _ = lm.score_lines(["a b c", "", "<s> </s> <unk>"].into_iter());
    }
});
