//! lmgauge's binary n-gram files (`lmgauge ngram build`): the same numbers as the ARPA file they
//! come from, through every command that takes one, and damaged files refused with the reason,
//! never a panic.

use crate::common::{Gen, fixture, lmgauge, repo, stderr, stdout, workspace};
use lmgauge::models::ngram::QueryLm;
use lmgauge::models::ngram::arpa::read_arpa_file;

fn build(arpa: &std::path::Path, out: &std::path::Path) {
    let o = lmgauge(&repo(), &["ngram", "build", "--arpa", arpa.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("5-gram model") || stderr(&o).contains("-gram model"), "{}", stderr(&o));
}

/// `query`, `perplexity` and `generate` print byte for byte what they print from the ARPA file.
#[test]
fn every_command_gives_the_arpa_files_output() {
    let dir = tempfile::tempdir().unwrap();
    let arpa = fixture("kenlm/moby-5.arpa.gz");
    let binary = dir.path().join("moby-5.lmgauge-ngram");
    build(&arpa, &binary);
    // lmplz's models are prefix-closed (header flag bit 0), so lookups skip the probes that
    // cannot succeed; the numbers below are still the ARPA file's, and KenLM's.
    let flags = u32::from_le_bytes(std::fs::read(&binary).unwrap()[52..56].try_into().unwrap());
    assert_eq!(flags, 1);
    let query = fixture("kenlm/moby-query.txt");
    let (a, b) = (arpa.to_str().unwrap(), binary.to_str().unwrap());
    let runs: [&[&str]; 3] = [
        &["ngram", "query", "--json", "-i", query.to_str().unwrap(), "--arpa"],
        &["perplexity", "--json", "--unit", "line", "-i", query.to_str().unwrap(), "--model"],
        &[
            "generate",
            "--json",
            "--prompt",
            "the whale",
            "--strategy",
            "sample",
            "--seed",
            "7",
            "--max-new-tokens",
            "20",
            "--model",
        ],
    ];
    for args in runs {
        let from_arpa = lmgauge(&repo(), &[args, &[a]].concat());
        let from_binary = lmgauge(&repo(), &[args, &[b]].concat());
        assert!(from_arpa.status.success() && from_binary.status.success(), "{}", stderr(&from_binary));
        let strip = |s: String| {
            s.replace(a, "MODEL")
                .replace(b, "MODEL")
                .replace("moby-5.arpa.gz", "M")
                .replace("moby-5.lmgauge-ngram", "M")
        };
        assert_eq!(strip(stdout(&from_arpa)), strip(stdout(&from_binary)), "{args:?}");
    }
}

/// A suite names the binary file as it names an ARPA file, and a trained model is cached as both.
#[test]
fn suites_read_binary_files_and_cache_trained_models_as_them() {
    let arpa = fixture("kenlm/moby-3.arpa.gz");
    let ws = workspace(&[("t.txt", "call me ishmael\nthe whale\n")]);
    build(&arpa, &ws.path().join("m.lmgauge-ngram"));
    let train = fixture("kenlm/moby-train.txt");
    let suite = format!(
        "version: 1\nname: s\nmodels:\n  - {{id: arpa, kind: ngram, arpa: {}}}\n  - {{id: binary, kind: ngram, arpa: m.lmgauge-ngram}}\n  - {{id: trained, kind: ngram, train: {}, order: 3}}\ntasks:\n  - id: t\n    type: perplexity\n    dataset: {{path: t.txt}}\n    models: [arpa, binary, trained]\n    metrics: [word_perplexity]\n",
        arpa.display(),
        train.display()
    );
    std::fs::write(ws.path().join("s.yaml"), suite).unwrap();
    for out in ["out1", "out2"] {
        let o = lmgauge(ws.path(), &["run-suite", "s.yaml", "--out", out, "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let csv = std::fs::read_to_string(ws.path().join("out1/s/latest/results.csv")).unwrap();
    let value = |model: &str| {
        csv.lines().find(|l| l.contains(&format!(",{model},"))).map(|l| l.split(',').nth(4).unwrap().to_owned())
    };
    assert!(value("arpa").is_some() && value("arpa") == value("binary"), "{csv}");
    assert_eq!(csv, std::fs::read_to_string(ws.path().join("out2/s/latest/results.csv")).unwrap());
    let cached: Vec<_> = walk(&ws.path().join("out1"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "lmgauge-ngram"))
        .collect();
    assert_eq!(cached.len(), 1, "the trained model's binary beside its cached ARPA in the run folder: {cached:?}");
    assert!(cached[0].with_extension("arpa").exists());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        // `latest` links to a run folder that the walk reaches anyway.
        if e.file_type().unwrap().is_symlink() {
            continue;
        }
        if e.path().is_dir() { out.extend(walk(&e.path())) } else { out.push(e.path()) }
    }
    out
}

/// Every truncation, every flipped header byte and flipped bytes anywhere: an error that names
/// the file, or (a flipped count of unreachable n-grams, which nothing reads) the same scores.
#[test]
fn damaged_binary_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let model = read_arpa_file(&fixture("kenlm/test.arpa")).unwrap();
    let good = dir.path().join("good.lmgauge-ngram");
    QueryLm::new(&model).write_binary(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let text = "looking on a little more loin\nthe the the";
    let expected = QueryLm::open_binary(&good).unwrap().score_lines(text.split('\n'));
    let bad = dir.path().join("bad.lmgauge-ngram");
    let check = |damaged: &[u8], what: &str| {
        std::fs::write(&bad, damaged).unwrap();
        match QueryLm::open_binary(&bad) {
            Err(e) => assert!(e.to_string().starts_with(bad.to_str().unwrap()), "{what}: {e}"),
            Ok(lm) => {
                assert_eq!(lm.score_lines(text.split('\n')), expected, "{what}: accepted, so it must score the same")
            }
        }
    };
    for len in 0..bytes.len() {
        check(&bytes[..len], &format!("truncated to {len}"));
    }
    for at in 0..72.min(bytes.len()) {
        for bit in [0x01, 0x80] {
            let mut d = bytes.clone();
            d[at] ^= bit;
            check(&d, &format!("header byte {at} ^ {bit:#x}"));
        }
    }
    let mut rng = Gen(0x5eed);
    for round in 0..300 {
        let mut d = bytes.clone();
        let at = rng.below(d.len());
        d[at] ^= 1 << rng.below(8);
        check(&d, &format!("round {round}: byte {at}"));
    }
    let mut d = bytes.clone();
    d.extend_from_slice(&[0; 8]);
    check(&d, "trailing bytes");
    // The CLI says what is wrong and which file.
    let mut d = bytes.clone();
    let last = d.len() - 1;
    d[last] ^= 0xff;
    std::fs::write(&bad, &d).unwrap();
    let o = lmgauge(
        &repo(),
        &["ngram", "query", "--arpa", bad.to_str().unwrap(), "-i", fixture("kenlm/moby-query.txt").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.lmgauge-ngram: checksum mismatch"), "{}", stderr(&o));
}

/// `ngram query` reads its text a block at a time: an invalid byte is still reported with its
/// line, counted across blocks.
#[test]
fn query_reports_invalid_utf8_with_its_line_across_blocks() {
    let ws = workspace(&[]);
    let mut text = "the whale\n".repeat(120_000).into_bytes(); // past the 1 MiB block
    text.extend_from_slice(b"call me \xff ishmael\n");
    std::fs::write(ws.path().join("q.txt"), &text).unwrap();
    let arpa = fixture("kenlm/moby-3.arpa.gz");
    let o = lmgauge(ws.path(), &["ngram", "query", "--arpa", arpa.to_str().unwrap(), "-i", "q.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("q.txt:120001"), "{}", stderr(&o));
}
