//! libFuzzer target: lmgauge's binary n-gram files. The input is a list of edits (offset, bytes)
//! applied to a valid image of KenLM's test.arpa, after which the checksum is made right again,
//! so the fuzzer reaches the checks behind it (sizes, word offsets, vocabulary slots, values);
//! inputs that are not edits are also tried as whole files. A file that opens must score text
//! to a finite log-probability: the binary path refuses whatever the ARPA reader refuses.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lmgauge::models::ngram::arpa::parse_arpa;
use lmgauge::models::ngram::QueryLm;

fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let arpa = include_bytes!("../../tests/fixtures/kenlm/test.arpa");
        let lm = QueryLm::new(&parse_arpa(std::path::Path::new("test.arpa"), arpa).expect("fixture parses"));
        let dir = std::env::temp_dir().join(format!("lmgauge-fuzz-ngram-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("base.lmgauge-ngram");
        lm.write_binary(&path).unwrap();
        std::fs::read(&path).unwrap()
    })
}

fn try_open(bytes: &[u8]) {
    let path = std::env::temp_dir().join(format!("lmgauge-fuzz-ngram-{}.bin", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    if let Ok(lm) = QueryLm::open_binary(&path) {
        let stats = lm.score_lines(["a b c", "looking on a little", "", "<s> </s> <unk>"].into_iter());
        // Finite, not necessarily ≤ 0: finite backoffs of any size are valid (KenLM and the ARPA
        // reader accept them), and large positive ones can lift a word's probability above 1.
        assert!(stats.log10_prob.is_finite(), "{stats:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    try_open(data);
    let mut image = base().to_vec();
    // Edits: [offset u32][len u8][bytes…] repeated.
    let mut rest = data;
    while rest.len() >= 5 {
        let at = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize % image.len();
        let n = (rest[4] as usize).min(rest.len() - 5).min(image.len() - at);
        image[at..at + n].copy_from_slice(&rest[5..5 + n]);
        rest = &rest[5 + n..];
    }
    // The checksum (offset 48) covers everything after the header, whose size follows the order.
    let order = u32::from_le_bytes(image[12..16].try_into().unwrap()) as usize;
    let header = 56usize.saturating_add(16usize.saturating_mul(order.saturating_sub(1)));
    if (1..=64).contains(&order) && header <= image.len() {
        let crc = crc32fast::hash(&image[header..]);
        image[48..52].copy_from_slice(&crc.to_le_bytes());
    }
    try_open(&image);
});
