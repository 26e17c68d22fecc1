//! The `multiple-choice` task type against the reference tools' own numbers
//! (tests/fixtures/multiple-choice/expected.json, written by scripts/lm-eval-fixtures.py): n-gram
//! choice scores equal KenLM's `full_scores` (1e-6), SmolLM2's equal lm-evaluation-harness 0.4.5's
//! per request (1e-4) with the same `acc` and `acc_norm` per item, and the `minimal-pairs` type's
//! sentence scores equal the harness's `loglikelihood` with an empty context. Bad items fail the
//! job naming file, line and field.

use serde_json::Value;

use crate::common::{fixture, lmgauge, rel, repo, stderr, workspace};

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(fixture("multiple-choice/expected.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The shipped datasets the fixture covers: (fixture task, file).
const SETS: [(&str, &str); 2] = [
    ("mc_blimp_one_prefix", "data/multiple-choice/blimp-one-prefix.jsonl"),
    ("mc_wikitext_endings", "data/multiple-choice/wikitext-endings.jsonl"),
];

fn unzip_arpa(dir: &std::path::Path, name: &str) {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(fixture(&format!("kenlm/{name}.gz"))).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(dir.join(name)).unwrap()).unwrap();
}

/// argmax with the first of equal values, as numpy.
fn argmax(v: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, x) in v.enumerate() {
        if x > best.1 || i == 0 {
            best = (i, x);
        }
    }
    best.0
}

#[test]
fn ngram_choices_are_scored_as_kenlm_scores_them_and_acc_follows() {
    let e = expected();
    let dir = workspace(&[]);
    unzip_arpa(dir.path(), "wiki-5.arpa");
    unzip_arpa(dir.path(), "wiki-3.arpa");
    let mut suite = String::from(
        "version: 1\nname: mc\nseed: 3\nbootstrap: 100\nmodels:\n  - {id: kn5, kind: ngram, arpa: wiki-5.arpa}\n  - {id: kn3, kind: ngram, arpa: wiki-3.arpa}\ntasks:\n",
    );
    for ((task, file), groups) in SETS.iter().zip(["[linguistics_term]", "[]"]) {
        suite += &format!(
            "  - id: {task}\n    type: multiple-choice\n    dataset: {{path: {}}}\n    models: [kn5, kn3]\n    metrics: [acc, acc_norm]\n    group_fields: {groups}\n",
            repo().join(file).display()
        );
    }
    std::fs::write(dir.path().join("suite.yaml"), suite).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("out/mc/latest");
    let results = std::fs::read_to_string(run.join("results.csv")).unwrap();
    let ln10 = std::f64::consts::LN_10;
    for (task, file) in SETS {
        let record: Value =
            serde_json::from_slice(&std::fs::read(run.join(format!("jobs/{task}__kn5.json"))).unwrap()).unwrap();
        let items = record["items"].as_array().unwrap();
        let kenlm = e["kenlm"]["tasks"][task].as_array().unwrap();
        let data = std::fs::read_to_string(repo().join(file)).unwrap();
        assert_eq!(items.len(), kenlm.len());
        let (mut acc, mut acc_norm) = (0, 0);
        for ((item, want), line) in items.iter().zip(kenlm).zip(data.lines()) {
            let q: Value = serde_json::from_str(line).unwrap();
            let want: Vec<f64> = floats(want).iter().map(|l| l * ln10).collect();
            let got: Vec<f64> = (0..want.len()).map(|k| item["scores"][format!("ll.{k}")].as_f64().unwrap()).collect();
            for (g, w) in got.iter().zip(&want) {
                assert!(rel(*g, *w) < 1e-6, "{task} {}: {got:?} vs KenLM {want:?}", item["id"]);
            }
            let gold = q["gold"].as_u64().unwrap() as usize;
            let chars: Vec<f64> =
                q["choices"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().chars().count() as f64).collect();
            acc += (argmax(want.iter().copied()) == gold) as usize;
            acc_norm += (argmax(want.iter().zip(&chars).map(|(l, c)| l / c)) == gold) as usize;
        }
        let row = |metric: &str| -> f64 {
            let line = results.lines().find(|l| l.starts_with(&format!("{task},kn5,{metric},"))).unwrap();
            line.split(',').nth(3).unwrap().parse().unwrap()
        };
        assert_eq!(row("acc"), acc as f64 / items.len() as f64, "{task}");
        assert_eq!(row("acc_norm"), acc_norm as f64 / items.len() as f64, "{task}");
    }
    let pairwise = std::fs::read_to_string(run.join("pairwise.csv")).unwrap();
    for metric in ["acc", "acc_norm"] {
        assert!(pairwise.contains(&format!("mc_wikitext_endings,{metric},kn5,kn3,")), "{pairwise}");
    }
    let subsets = std::fs::read_to_string(run.join("subsets.csv")).unwrap();
    assert!(subsets.contains("mc_blimp_one_prefix,kn3,linguistics_term=anaphor_agreement,30,"), "{subsets}");
    assert!(!subsets.contains("mc_wikitext_endings"), "no group fields, no groups");
}

#[test]
fn a_bad_question_fails_its_job_naming_file_line_and_field_and_keeps_the_others() {
    let good = "{\"context\": \"the cat\", \"choices\": [\"sat\", \"dog\"], \"gold\": 0}\n";
    let dir = workspace(&[
        ("good.jsonl", good),
        ("bad.jsonl", &format!("{good}{{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"gold\": 2}}\n")),
    ]);
    unzip_arpa(dir.path(), "wiki-3.arpa");
    let task = |id: &str| {
        format!(
            "  - {{id: {id}, type: multiple-choice, dataset: {{path: {id}.jsonl}}, models: [kn3], metrics: [acc]}}\n"
        )
    };
    let suite = format!(
        "version: 1\nname: mc\nmodels:\n  - {{id: kn3, kind: ngram, arpa: wiki-3.arpa}}\ntasks:\n{}{}",
        task("good"),
        task("bad")
    );
    std::fs::write(dir.path().join("suite.yaml"), suite).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.jsonl:2: field \"gold\" is 2; the index of the right choice must be 0 to 1"),
        "{}",
        stderr(&o)
    );
    assert!(dir.path().join("out/mc/latest/jobs/good__kn3.json").is_file(), "the good task's job is kept");
}

#[cfg(feature = "torch")]
mod smollm2 {
    use lmgauge::models::neural::{self, DeviceChoice, Family, NeuralOptions};

    use super::*;

    /// Within 1e-4 relative (absolute near zero), the f32 tolerance for model log-likelihoods.
    fn close(g: f64, w: f64) -> bool {
        (g - w).abs() <= 1e-4 * w.abs().max(1.0)
    }

    #[test]
    fn smollm2_matches_lm_evaluation_harness_request_by_request() {
        let path = repo().join("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        if !path.is_file() {
            assert!(std::env::var_os("LMGAUGE_REQUIRE_MODELS").is_none(), "{} is missing", path.display());
            eprintln!("skipped: {} is missing (run `make models`)", path.display());
            return;
        }
        let e = expected();
        let model = neural::load(
            Family::Causal,
            &path,
            &NeuralOptions { device: DeviceChoice::Cpu, compute: Some(neural::Compute::F32), ..Default::default() },
        )
        .unwrap();
        for (task, file) in SETS {
            let data = std::fs::read_to_string(repo().join(file)).unwrap();
            let questions: Vec<Value> = data.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            let continuations: Vec<Vec<String>> = questions
                .iter()
                .map(|q| q["choices"].as_array().unwrap().iter().map(|c| format!(" {}", c.as_str().unwrap())).collect())
                .collect();
            let requests: Vec<(&str, &str)> = questions
                .iter()
                .zip(&continuations)
                .flat_map(|(q, cs)| cs.iter().map(|c| (q["context"].as_str().unwrap(), c.as_str())))
                .collect();
            let mut got = model.continuation_likelihoods(&requests).unwrap().into_iter().map(|s| -s.nll());
            let want = e["tasks"][task]["items"].as_array().unwrap();
            assert_eq!(want.len(), questions.len());
            let (mut acc, mut acc_norm) = (0.0, 0.0);
            for (q, w) in questions.iter().zip(want) {
                let lls: Vec<f64> = q["choices"].as_array().unwrap().iter().map(|_| got.next().unwrap()).collect();
                let harness = floats(&w["logliks"]);
                for (g, h) in lls.iter().zip(&harness) {
                    assert!(close(*g, *h), "{task} {}: {lls:?} vs lm-evaluation-harness {harness:?}", w["id"]);
                }
                let chars: Vec<f64> = q["choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().chars().count() as f64)
                    .collect();
                let gold = q["gold"].as_u64().unwrap() as usize;
                let a = (argmax(lls.iter().copied()) == gold) as u8 as f64;
                let n = (argmax(lls.iter().zip(&chars).map(|(l, c)| l / c)) == gold) as u8 as f64;
                assert_eq!((a, n), (w["acc"].as_f64().unwrap(), w["acc_norm"].as_f64().unwrap()), "{task} {}", w["id"]);
                acc += a;
                acc_norm += n;
            }
            let n = questions.len() as f64;
            assert!((acc / n - e["tasks"][task]["acc"].as_f64().unwrap()).abs() < 1e-12);
            assert!((acc_norm / n - e["tasks"][task]["acc_norm"].as_f64().unwrap()).abs() < 1e-12);
        }
        // minimal-pairs scores a sentence as the harness's loglikelihood with an empty context and
        // no delimiter: the same numbers through the scorer minimal-pairs calls.
        let blimp = e["tasks"]["blimp_sentences"]["items"].as_array().unwrap();
        let mut sentences = Vec::new();
        for item in blimp.iter().step_by(4) {
            let (stem, line) = item["id"].as_str().unwrap().split_once(':').unwrap();
            let file = repo().join(format!("data/blimp/{stem}.jsonl.gz"));
            let text =
                std::io::read_to_string(flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap())).unwrap();
            let r: Value = serde_json::from_str(text.lines().nth(line.parse::<usize>().unwrap() - 1).unwrap()).unwrap();
            sentences.push((r["sentence_good"].as_str().unwrap().to_owned(), floats(&item["logliks"])[0]));
            sentences.push((r["sentence_bad"].as_str().unwrap().to_owned(), floats(&item["logliks"])[1]));
        }
        let texts: Vec<&str> = sentences.iter().map(|(s, _)| s.as_str()).collect();
        for (s, (text, want)) in model.likelihoods(&texts).unwrap().iter().zip(&sentences) {
            assert!(close(-s.nll(), *want), "{text:?}: {} vs lm-evaluation-harness {want}", -s.nll());
        }
    }
}
