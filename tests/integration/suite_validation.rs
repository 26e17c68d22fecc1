//! Suite validation: every kind of error is reported before work starts, naming the suite file,
//! line and column, and the offending key or name.

use crate::common::{lmgauge, stderr, workspace};

const TRAIN: &str = "the cat sat on the mat\nthe dog sat on the log\n";

/// A valid suite; tests break one thing at a time.
const GOOD: &str = "version: 1
name: t
seed: 3
models:
  - id: kn2
    kind: ngram
    train: train.txt
    order: 2
    discount_fallback: true
tasks:
  - id: ppl
    type: perplexity
    dataset: {path: test.txt, unit: line}
    models: [kn2]
    metrics: [bits_per_byte, word_perplexity]
";

/// Validates `suite` and returns the error output (the command must fail with exit code 2).
fn invalid(suite: &str) -> String {
    let dir = workspace(&[("suite.yaml", suite), ("train.txt", TRAIN), ("test.txt", TRAIN)]);
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(2), "accepted:\n{suite}");
    stderr(&o)
}

#[test]
fn good_suite_validates() {
    let dir = workspace(&[("suite.yaml", GOOD), ("train.txt", TRAIN), ("test.txt", TRAIN)]);
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unknown_top_level_key() {
    let err = invalid(&GOOD.replace("seed: 3", "seed: 3\nseeds: 4"));
    assert!(err.contains("suite.yaml:4:1") && err.contains("unknown field `seeds`"), "{err}");
}

#[test]
fn unknown_key_inside_a_model() {
    let err = invalid(&GOOD.replace("    order: 2\n", "    order: 2\n    smoothing: kn\n"));
    assert!(err.contains("suite.yaml:9:5") && err.contains("unknown field `smoothing`"), "{err}");
}

#[test]
fn unknown_key_inside_a_task_dataset() {
    let err = invalid(&GOOD.replace("unit: line}", "unit: line, colum: text}"));
    assert!(err.contains("suite.yaml:13:") && err.contains("unknown field `colum`"), "{err}");
}

#[test]
fn unknown_model_kind() {
    let err = invalid(&GOOD.replace("kind: ngram", "kind: ngarm"));
    assert!(err.contains("suite.yaml:") && err.contains("ngarm"), "{err}");
}

#[test]
fn missing_dataset_file() {
    let err = invalid(&GOOD.replace("path: test.txt", "path: nothere.txt"));
    assert!(err.contains("suite.yaml:13:15") && err.contains("nothere.txt") && err.contains("does not exist"), "{err}");
}

#[test]
fn missing_training_file() {
    let err = invalid(&GOOD.replace("train: train.txt", "train: gone.txt"));
    assert!(err.contains("suite.yaml:7:5") && err.contains("gone.txt"), "{err}");
}

#[test]
fn unknown_model_id_in_task() {
    let err = invalid(&GOOD.replace("models: [kn2]", "models: [kn2, kn9]"));
    assert!(err.contains("suite.yaml:14:19") && err.contains("unknown model id \"kn9\""), "{err}");
}

#[test]
fn metric_the_task_cannot_produce() {
    let err = invalid(&GOOD.replace("metrics: [bits_per_byte, word_perplexity]", "metrics: [bits_per_byte, bleu]"));
    assert!(
        err.contains("suite.yaml:15:30") && err.contains("\"bleu\"") && err.contains("perplexity task cannot produce"),
        "{err}"
    );
}

#[test]
fn duplicate_ids_and_bad_version_are_all_reported() {
    let suite = GOOD.replace("version: 1", "version: 7").replace("  - id: ppl", "  - id: ppl\n    type: perplexity\n    dataset: {path: test.txt}\n    models: [kn2]\n    metrics: [bits_per_byte]\n  - id: ppl");
    let err = invalid(&suite);
    assert!(err.contains("suite.yaml:1:1") && err.contains("version 7"), "{err}");
    assert!(err.contains("duplicate task id \"ppl\""), "{err}");
    assert!(err.contains("2 problems"), "{err}");
}

#[test]
fn ngram_needs_a_source_and_an_order() {
    let err = invalid(&GOOD.replace("    order: 2\n", ""));
    assert!(err.contains("suite.yaml:5:") && err.contains("`order` is required"), "{err}");
    let err = invalid(&GOOD.replace("    train: train.txt\n", "    train: train.txt\n    arpa: train.txt\n"));
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn yaml_syntax_error_has_position() {
    let err = invalid(&GOOD.replace("models: [kn2]", "models: [kn2"));
    assert!(err.contains("suite.yaml:"), "{err}");
}

#[test]
fn bad_pruning_is_reported_at_its_key() {
    let err = invalid(&GOOD.replace("    order: 2\n", "    order: 3\n    prune: [0, 2, 1]\n"));
    assert!(err.contains("suite.yaml:9:") && err.contains("non-decreasing"), "{err}");
}
