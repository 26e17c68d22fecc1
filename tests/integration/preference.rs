//! Preference tasks: judge statistics against a plain-Python computation, the length baseline on
//! the shipped HH-RLHF subset against an independent computation, and bad pairs reported.

use lmgauge::metrics::Metric;
use lmgauge::store::jobs::{ItemScore, JOB_RECORD_VERSION, JobRecord, JobStatus};
use lmgauge::store::scores::{PreferenceScores, Scores};
use lmgauge::tasks::preference::{cohen_kappa, judges_and_agreement, outcomes, preference_rows};

use crate::common::{fixture, lmgauge, repo, stderr, workspace};

fn record(model: &str, scores: &[(f64, f64)]) -> JobRecord {
    JobRecord {
        version: JOB_RECORD_VERSION,
        task: "t".into(),
        model: model.into(),
        status: JobStatus::Done,
        error: None,
        model_description: String::new(),
        seconds: 0.0,
        items: scores
            .iter()
            .enumerate()
            .map(|(i, &(c, r))| ItemScore {
                id: (i + 1).to_string(),
                scores: Scores::Preference(PreferenceScores {
                    chosen: c,
                    rejected: r,
                    per_token: None,
                    len_chosen: 1.0,
                    len_rejected: 1.0,
                }),
                output: None,
            })
            .collect(),
        notes: Vec::new(),
    }
}

fn task() -> lmgauge::suite::TaskDef {
    lmgauge::suite::TaskDef {
        id: "t".into(),
        description: None,
        dataset: lmgauge::data::DatasetSpec {
            path: "x".into(),
            format: lmgauge::data::Format::Jsonl,
            unit: lmgauge::data::Unit::Line,
            fields: Default::default(),
            limit: None,
        },
        source: None,
        models: vec![],
        metrics: vec![Metric::Accuracy, Metric::AccuracyTiesHalf, Metric::TieRate],
        task_type: "preference".into(),
        options: Default::default(),
    }
}

#[test]
fn judge_statistics_match_a_python_computation() {
    let fx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("preference/judges.json")).unwrap()).unwrap();
    let t = task();
    let mut records = Vec::new();
    for (name, pairs) in fx["judges"].as_object().unwrap() {
        let scores: Vec<(f64, f64)> =
            pairs.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect();
        records.push(record(name, &scores));
    }
    for r in &records {
        let want = &fx["expected"][&r.model];
        for row in preference_rows(&t, r, 1, 100) {
            let w = want[row.metric.as_str()].as_f64().unwrap();
            assert!((row.value - w).abs() < 1e-12, "{} {}: {} vs {w}", r.model, row.metric, row.value);
        }
    }
    let refs: Vec<&JobRecord> = records.iter().collect();
    let (judges, agreement) = judges_and_agreement(&t, &refs);
    for j in &judges {
        let want = &fx["expected"][&j.judge];
        assert!((j.wilson_low - want["wilson_low"].as_f64().unwrap()).abs() < 1e-12);
        assert!((j.wilson_high - want["wilson_high"].as_f64().unwrap()).abs() < 1e-12);
    }
    for want in fx["agreement"].as_array().unwrap() {
        let (a, b) = (want["a"].as_str().unwrap(), want["b"].as_str().unwrap());
        let got = agreement
            .iter()
            .find(|x| (x.judge_a == a && x.judge_b == b) || (x.judge_a == b && x.judge_b == a))
            .unwrap();
        assert!((got.agreement - want["agreement"].as_f64().unwrap()).abs() < 1e-12);
        assert!((got.kappa - want["kappa"].as_f64().unwrap()).abs() < 1e-12, "{a}/{b}");
    }
    let coarse = records.iter().find(|r| r.model == "coarse").unwrap();
    assert!(outcomes(coarse, false).contains(&0), "the coarse judge has ties");
    assert!(cohen_kappa(&[1, 1], &[1, 1]).1.is_nan(), "kappa is undefined when chance agreement is 1");
}

#[test]
fn length_baseline_on_the_shipped_subset_matches_an_independent_count() {
    let path = repo().join("data/hh-rlhf/harmless-base-test.jsonl");
    let s = format!(
        "version: 1\nname: p\nbootstrap: 50\nmodels:\n  - {{id: longer, kind: length}}\n  - {{id: coin, kind: random}}\ntasks:\n  - id: hh\n    type: preference\n    dataset: {{path: {}, limit: 300}}\n    models: [longer, coin]\n    metrics: [accuracy, tie_rate]\n",
        path.display()
    );
    let dir = workspace(&[("suite.yaml", &s)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Independent: split each transcript at its last "\n\nAssistant:" and compare lengths.
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut wins, mut ties, mut n) = (0, 0, 0);
    for line in text.lines() {
        if n == 300 {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let resp = |k: &str| {
            v[k].as_str().unwrap().rsplit_once("\n\nAssistant:").map(|(p, r)| (p.to_owned(), r.to_owned())).unwrap()
        };
        let ((pc, c), (pr, r)) = (resp("chosen"), resp("rejected"));
        if pc != pr || c.trim().is_empty() || r.trim().is_empty() || c == r {
            continue;
        }
        n += 1;
        let (lc, lr) = (c.chars().count(), r.chars().count());
        wins += (lc > lr) as usize;
        ties += (lc == lr) as usize;
    }
    let csv = std::fs::read_to_string(dir.path().join("out/p/latest/results.csv")).unwrap();
    let value = |metric: &str| -> f64 {
        csv.lines()
            .find(|l| l.starts_with(&format!("hh,longer,{metric},")))
            .unwrap()
            .split(',')
            .nth(3)
            .unwrap()
            .parse()
            .unwrap()
    };
    // results.csv carries 10 decimals.
    assert!((value("accuracy") - wins as f64 / n as f64).abs() < 1e-9);
    assert!((value("tie_rate") - ties as f64 / n as f64).abs() < 1e-9);
    assert!(
        std::fs::read_to_string(dir.path().join("out/p/latest/index.html"))
            .unwrap()
            .contains("Agreement between judges")
    );
}

#[test]
fn bad_pairs_are_reported_and_capabilities_checked() {
    let good = serde_json::json!({"chosen": "\n\nHuman: hi\n\nAssistant: hello there", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}).to_string();
    let bad =
        serde_json::json!({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: bye\n\nAssistant: b"})
            .to_string();
    let data = format!("{good}\n{bad}\n{good}\n");
    let train = fixture("kenlm/wiki-train.txt").display().to_string();
    let s = format!(
        "version: 1\nname: p\nmodels:\n  - {{id: kn, kind: ngram, train: {train}, order: 2, skip_symbols: true}}\ntasks:\n  - id: hh\n    type: preference\n    dataset: {{path: pairs.jsonl}}\n    models: [kn]\n    metrics: [accuracy]\n"
    );
    let dir = workspace(&[("suite.yaml", &s), ("pairs.jsonl", &data)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("pairs.jsonl:2: skipped") && err.contains("do not share"), "{err}");
    assert!(err.contains("pairs.jsonl:3: skipped: duplicate"), "{err}");
    let csv = std::fs::read_to_string(dir.path().join("out/p/latest/results.csv")).unwrap();
    assert!(csv.contains("hh,kn,accuracy,") && csv.contains("hh,kn:mean,accuracy,"), "{csv}");
    // Stored outputs cannot judge.
    let s2 = s.replace("kind: ngram, train: ", "kind: outputs, path: ").replace(", order: 2, skip_symbols: true", "");
    std::fs::write(dir.path().join("suite.yaml"), s2).unwrap();
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("reward scoring"), "{}", stderr(&o));
}

#[test]
fn comparisons_layout_subsets_and_escaped_disagreements() {
    let row = |post: &str, sub: &str, a: &str, b: &str, choice: u8| {
        serde_json::json!({"info": {"post": post, "subreddit": sub}, "summaries": [{"text": a}, {"text": b}], "choice": choice}).to_string()
    };
    let lines = [
        row("post one", "r/a", "short", "a much longer summary <script>x</script>", 0),
        row("post two", "r/a", "tiny", "a considerably longer one", 1),
        row("post three", "r/b", "s", "longer text here", 0),
    ];
    let s = "version: 1\nname: c\nbootstrap: 20\nmodels:\n  - {id: longer, kind: length}\ntasks:\n  - id: tldr\n    type: preference\n    layout: comparisons\n    dataset: {path: comparisons.jsonl}\n    models: [longer]\n    metrics: [accuracy]\n";
    let dir = workspace(&[("suite.yaml", s), ("comparisons.jsonl", &lines.join("\n"))]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("out/c/latest");
    let subsets = std::fs::read_to_string(run.join("subsets.csv")).unwrap();
    // Written by the csv crate: a subset is quoted only when it needs to be.
    // With the Wilson 95% interval (1 of 2: [0.0945, 0.9055]; 0 of 1: [0, 0.7935]).
    assert!(
        subsets.contains("tldr,longer,r/a,2,0.5,0.0945312057")
            && subsets.contains("tldr,longer,r/b,1,0.0,0.0,0.79345068"),
        "{subsets}"
    );
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("Where the best judge (longer) disagrees"));
    assert!(
        html.contains("&#60;script&#62;x&#60;/script&#62;") && !html.contains("<script>x"),
        "disagreement texts are escaped"
    );
    let bad = row("p", "r/a", "one", "two", 3);
    std::fs::write(dir.path().join("comparisons.jsonl"), bad).unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("comparisons.jsonl:1") && stderr(&o).contains("\"choice\" 0 or 1"), "{}", stderr(&o));
}

#[test]
fn reference_metric_judges_score_each_response_against_the_reference() {
    use lmgauge::metrics::rouge::{RougeScorer, RougeType};
    let rows = [
        serde_json::json!({"prompt": "Summarize: the cat sat on the mat all day", "chosen": "the cat sat on the mat", "rejected": "dogs ran in the park", "reference": "a cat sat on a mat"}),
        serde_json::json!({"prompt": "Summarize: rain fell", "chosen": "it rained", "rejected": "it rained heavily all night long", "reference": "heavy rain fell all night"}),
    ];
    let data: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let s = "version: 1\nname: m\nbootstrap: 20\nmodels:\n  - {id: rl, kind: metric, metric: rougeL}\n  - {id: bleu, kind: metric, metric: bleu}\ntasks:\n  - id: t\n    type: preference\n    layout: explicit\n    dataset: {path: pairs.jsonl}\n    models: [rl, bleu]\n    metrics: [accuracy]\n";
    let dir = workspace(&[("suite.yaml", s), ("pairs.jsonl", &data)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Expected from ROUGE-L directly: pair 1 chosen wins, pair 2 rejected wins.
    let sc = RougeScorer { types: vec![RougeType::RougeL], stem: true };
    let f = |r: &str, h: &str| sc.score(r, h)[0].1.fmeasure;
    let wins = (f("a cat sat on a mat", "the cat sat on the mat") > f("a cat sat on a mat", "dogs ran in the park"))
        as u8
        + (f("heavy rain fell all night", "it rained")
            > f("heavy rain fell all night", "it rained heavily all night long")) as u8;
    let csv = std::fs::read_to_string(dir.path().join("out/m/latest/results.csv")).unwrap();
    let acc: f64 =
        csv.lines().find(|l| l.starts_with("t,rl,accuracy,")).unwrap().split(',').nth(3).unwrap().parse().unwrap();
    assert_eq!(acc, wins as f64 / 2.0);
    // Without references the judge's job fails with the line named; validation checks the metric.
    std::fs::write(
        dir.path().join("pairs.jsonl"),
        data.replace(", \"reference\": \"a cat sat on a mat\"", "")
            .replace("\"reference\":\"a cat sat on a mat\",", ""),
    )
    .unwrap();
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 1 has no \"reference\""), "{}", stderr(&o));
    std::fs::write(dir.path().join("suite.yaml"), s.replace("metric: bleu", "metric: accuracy")).unwrap();
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert!(stderr(&o).contains("a metric judge needs one of"), "{}", stderr(&o));
}
