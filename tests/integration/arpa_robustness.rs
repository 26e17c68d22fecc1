//! The ARPA parser on hostile input: seeded random mutations of a real lmplz file and hand-made
//! pathological headers must give errors (or a valid model), never a panic or a huge allocation.
//! The libFuzzer target in fuzz/ explores the same parser without bounds.

use std::path::Path;

use lmgauge::models::ngram::arpa::{parse_arpa, read_arpa_file};

use crate::common::Gen;

fn base() -> Vec<u8> {
    let m = read_arpa_file(&crate::common::fixture("kenlm/tiny-3-fallback.arpa.gz")).unwrap();
    let mut out = Vec::new();
    lmgauge::models::ngram::arpa::write_arpa(&m, &mut out).unwrap();
    out
}

#[test]
fn random_mutations_never_panic() {
    let base = base();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let tokens: [&[u8]; 10] =
        [b"\n", b"\t", b" ", b"-", b"9999999999999999999", b"\\end\\", b"\\2-grams:", b"ngram 3=", b"nan", b"<s>"];
    let mut accepted = 0;
    for _ in 0..4000 {
        let mut data = base.clone();
        for _ in 0..1 + g.below(4) {
            match g.below(4) {
                0 => {
                    let i = g.below(data.len());
                    data[i] = g.next() as u8;
                }
                1 => data.truncate(g.below(data.len())),
                2 => {
                    let i = g.below(data.len());
                    let t = tokens[g.below(tokens.len())];
                    data.splice(i..i, t.iter().copied());
                }
                _ => {
                    let (a, b) = (g.below(data.len()), g.below(data.len()));
                    let (a, b) = (a.min(b), a.max(b));
                    let chunk = data[a..b].to_vec();
                    let i = g.below(data.len());
                    data.splice(i..i, chunk);
                }
            }
        }
        let result = std::panic::catch_unwind(|| {
            parse_arpa(Path::new("fuzz.arpa"), &data).map(|m| {
                lmgauge::models::ngram::QueryLm::new(&m).score_lines(["the cat", "", "zebra a"].into_iter());
            })
        });
        match result {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => assert!(e.to_string().contains("fuzz.arpa"), "{e}"),
            Err(_) => panic!("parser panicked on input:\n{}", String::from_utf8_lossy(&data)),
        }
    }
    assert!(accepted > 0, "some mutations (e.g. changed digits) should still parse");
}

#[test]
fn absurd_counts_are_refused_before_allocating() {
    for header in ["ngram 1=18446744073709551615", "ngram 1=4000000000", "ngram 1=-5", "ngram 1=1e9"] {
        let text = format!("\\data\\\n{header}\n\n\\1-grams:\n-1\t<s>\n\\end\\\n");
        let err = parse_arpa(Path::new("huge.arpa"), text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("huge.arpa:2"), "{header}: {err}");
    }
    let many_orders: String = (1..=80).map(|k| format!("ngram {k}=1\n")).collect();
    let err = parse_arpa(Path::new("o.arpa"), format!("\\data\\\n{many_orders}").as_bytes()).unwrap_err().to_string();
    assert!(err.contains("exceeds the supported maximum"), "{err}");
}

#[test]
fn gzip_bombs_and_corrupt_gzip_are_errors() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.arpa.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&zeros).unwrap();
    }
    std::fs::write(&p, enc.finish().unwrap()).unwrap();
    let err = read_arpa_file(&p).unwrap_err().to_string();
    assert!(err.contains("bomb.arpa.gz") && err.contains("refusing"), "{err}");
    std::fs::write(&p, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let err = read_arpa_file(&p).unwrap_err().to_string();
    assert!(err.contains("corrupt gzip"), "{err}");
}
