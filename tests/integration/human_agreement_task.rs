//! `type: human-agreement` from the command line (issue #34): the shipped rated sets in their own
//! layouts, the published numbers reproduced through `run-suite` (G-Eval Table 1's 24 SummEval
//! values within 0.002, WMT19 kk-en daRR chrF's τ-like to the digits given, the MQM per-system
//! means of Google's tables), the ranked table with significance, and bad input refused or
//! skipped by name.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{lmgauge, repo, stderr, workspace};

fn data(rel: &str) -> String {
    repo().join("data/human-judgments").join(rel).display().to_string()
}

/// Runs `suite` (YAML text) in a fresh folder; returns the folder and the run's folder.
fn run(suite: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = workspace(&[("suite.yaml", suite)]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let name = suite.lines().find_map(|l| l.strip_prefix("name: ")).unwrap().trim().to_owned();
    let run_dir = dir.path().join("out").join(name).join("latest");
    (dir, run_dir, err)
}

/// results.csv as (task, model, metric) → (value, n); an undefined value is NaN.
fn results(run_dir: &Path) -> Vec<(String, String, String, f64)> {
    let text = std::fs::read_to_string(run_dir.join("results.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].parse().unwrap_or(f64::NAN))
        })
        .collect()
}

fn value(rows: &[(String, String, String, f64)], model: &str, metric: &str) -> f64 {
    rows.iter().find(|r| r.1 == model && r.2 == metric).unwrap_or_else(|| panic!("no row {model} {metric}")).3
}

#[test]
fn summeval_from_the_cli_reproduces_g_eval_table_1() {
    let suite = format!(
        "version: 1\nname: summeval\nbootstrap: 20\nmodels:\n  - {{id: rouge1, kind: metric, metric: rouge1}}\n  - {{id: rouge2, kind: metric, metric: rouge2}}\n  - {{id: rougeL, kind: metric, metric: rougeLsum, sentences: period}}\ntasks:\n  - id: summeval\n    type: human-agreement\n    dataset: {{path: {}}}\n    permutations: 50\n    models: [rouge1, rouge2, rougeL]\n    metrics: [item_spearman, item_kendall]\n",
        data("summeval")
    );
    let (_dir, run_dir, _) = run(&suite);
    let rows = results(&run_dir);
    let published: Value =
        serde_json::from_slice(&std::fs::read(repo().join("data/human-judgments/published.json")).unwrap()).unwrap();
    let table = published["summeval_summary_level_geval_table1"]["rows"].as_array().unwrap();
    assert_eq!(table.len(), 12);
    for p in table {
        let judge = match p["metric"].as_str().unwrap() {
            "ROUGE-1" => "rouge1",
            "ROUGE-2" => "rouge2",
            _ => "rougeL",
        };
        let model = format!("{judge}@{}", p["dim"].as_str().unwrap());
        for (metric, key) in [("item_spearman", "published_spearman"), ("item_kendall", "published_kendall")] {
            // At the table's printed precision (3 decimals).
            let (ours, theirs) = (value(&rows, &model, metric), p[key].as_f64().unwrap());
            assert!(
                ((ours * 1000.0).round() / 1000.0 - theirs).abs() <= 0.002 + 1e-9,
                "{model} {metric}: {ours} vs published {theirs}"
            );
        }
    }
    // The ranked table: one best per dimension and statistic, the others tested against it.
    let csv = std::fs::read_to_string(run_dir.join("human-agreement.csv")).unwrap();
    assert!(
        csv.starts_with("task,judge,dimension,level,statistic,value,ci_low,ci_high,n,rank,p_vs_best,tied_with_best\n")
    );
    assert_eq!(csv.lines().filter(|l| l.split(',').nth(9) == Some("1")).count(), 8, "{csv}");
    let html = std::fs::read_to_string(run_dir.join("index.html")).unwrap();
    assert!(html.contains("<h3>relevance</h3>") && html.contains("PERM-BOTH"), "no human-agreement view");
}

#[test]
fn wmt19_darr_task_reproduces_the_published_chrf_and_counts_ties_against_the_judge() {
    let suite = format!(
        "version: 1\nname: darr\nbootstrap: 20\nmodels: [{{id: bleu-wmt19, kind: metric, metric: bleu, recipe: wmt19-moses}}]\ntasks:\n  - id: kk-en\n    type: human-agreement\n    dataset: {{path: {}}}\n    permutations: 20\n    models: []\n    metrics: [darr_tau_like]\n",
        data("wmt19-darr/kk-en.jsonl.gz")
    );
    let (_dir, run_dir, _) = run(&suite);
    let rows = results(&run_dir);
    // Published: 0.322985 (sacrebleu sentence chrF); sacrebleu's default sentence BLEU: 0.2845.
    assert!((value(&rows, "chrf", "darr_tau_like") - 0.322985).abs() < 5e-7);
    assert!((value(&rows, "bleu", "darr_tau_like") - 0.2845).abs() < 5e-5);
    // No models listed: every reference metric judged the pairs; the WMT19 baseline recipe is
    // scored by its own task below.
    for judge in ["bleu", "chrf", "chrfpp", "rouge1", "rouge2", "rougeL", "rougeLsum"] {
        assert!(value(&rows, judge, "darr_tau_like").is_finite(), "{judge}");
    }
    // Published BLEU row: sacremoses-tokenized single-sentence corpus BLEU (COMET/BARTScore).
    let wmt19 =
        suite.replace("    models: []\n", "    models: [bleu-wmt19]\n").replace("name: darr", "name: darr-wmt19");
    let (_dir, run_dir, _) = run(&wmt19);
    assert!((value(&results(&run_dir), "bleu-wmt19", "darr_tau_like") - 0.276316).abs() < 5e-7);
}

#[test]
fn mqm_human_side_matches_googles_per_system_table() {
    let suite = format!(
        "version: 1\nname: mqm\nbootstrap: 10\nmodels: [{{id: chrf, kind: metric, metric: chrf}}]\ntasks:\n  - id: ted\n    type: human-agreement\n    dataset: {{path: {}}}\n    permutations: 0\n    models: [chrf]\n    metrics: [seg_kendall, seg_acc_eq, item_kendall, sys_pearson, sys_accuracy]\n",
        data("mqm-wmt21/ted_ende.jsonl.gz")
    );
    let (_dir, run_dir, err) = run(&suite);
    assert!(err.contains("ratings of the human reference \"ref-A\" are not scored"), "{err}");
    let points: Vec<Value> =
        serde_json::from_slice(&std::fs::read(run_dir.join("human-systems.json")).unwrap()).unwrap();
    let published: Value =
        serde_json::from_slice(&std::fs::read(repo().join("data/human-judgments/published.json")).unwrap()).unwrap();
    let pairs = published["mqm_ted_ende_per_system_published"]["pairs"].as_object().unwrap();
    let mut checked = 0;
    for p in &points {
        let system = p["system"].as_str().unwrap();
        if let Some(pair) = pairs.get(system) {
            // The table prints minus the mean MQM score (an error penalty), to 2 decimals.
            // [printed, the data's own recomputation]: ours is the latter, and within the
            // published table's rounding of the former.
            let ours = -p["human"].as_f64().unwrap();
            assert!((ours - pair[1].as_f64().unwrap()).abs() < 5e-5, "{system}: {ours} vs {pair}");
            // (published.json's max_abs_diff, 0.0088, was taken from the rounded recomputation.)
            assert!((ours - pair[0].as_f64().unwrap()).abs() <= 0.009, "{system}: {ours} vs {pair}");
            checked += 1;
        }
    }
    assert_eq!(checked, 13);
    let rows = results(&run_dir);
    for metric in ["seg_kendall", "seg_acc_eq", "item_kendall", "sys_pearson", "sys_accuracy"] {
        let v = value(&rows, "chrf@mqm", metric);
        assert!(v > 0.0 && v <= 1.0, "{metric}: {v}");
    }
}

const LONG_HEADER: &str = "item,system,hypothesis,reference,adequacy\n";

fn long_suite(judge: &str) -> String {
    format!(
        "version: 1\nname: long\nbootstrap: 10\nmodels: [{judge}]\ntasks:\n  - id: rated\n    type: human-agreement\n    dataset: {{path: rated.csv}}\n    models: [j]\n    metrics: [seg_kendall, sys_pearson]\n"
    )
}

#[test]
fn long_format_bad_ratings_are_refused_by_file_line_and_field() {
    let suite = long_suite("{id: j, kind: metric, metric: chrf}");
    for (row, what) in [
        ("a,s1,the cat,the cat,NaN\n", "rating \"adequacy\" must be a finite number or empty, found \"NaN\""),
        ("a,s1,,the cat,3\n", "field \"hypothesis\" must be text"),
    ] {
        let dir =
            workspace(&[("suite.yaml", &suite), ("rated.csv", &format!("{LONG_HEADER}b,s1,a dog,the dog,2\n{row}"))]);
        let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "accepted {row:?}");
        assert!(err.contains("rated.csv:3") && err.contains(what), "{row:?}: {err}");
    }
}

#[test]
fn unrated_rows_partial_systems_and_constant_judges_are_named_never_zero_or_nan() {
    // s3 has an output for item a only; item c's s2 has no rating; every hypothesis equals its
    // reference, so chrF gives every output 100: its correlations are undefined.
    let csv = format!(
        "{LONG_HEADER}a,s1,the cat sat,the cat sat,4\na,s2,the cat sat,the cat sat,2\na,s3,the cat sat,the cat sat,3\nb,s1,x y,x y,5\nb,s2,x y,x y,1\nc,s1,p q,p q,3\nc,s2,p q,p q,\n"
    );
    let dir = workspace(&[("suite.yaml", &long_suite("{id: j, kind: metric, metric: chrf}")), ("rated.csv", &csv)]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 outputs have no adequacy rating"), "{err}");
    assert!(err.contains("system-level adequacy: 1 of 3 items have every one of the 3 systems rated"), "{err}");
    assert!(err.contains("judge j gives every output the same score"), "{err}");
    let run_dir = dir.path().join("out/long/latest");
    let rows = results(&run_dir);
    assert!(value(&rows, "j@adequacy", "seg_kendall").is_nan(), "undefined must stay undefined");
    let json = std::fs::read_to_string(run_dir.join("results.json")).unwrap();
    assert!(!json.contains("NaN"), "results.json printed NaN");
    crate::common::valid_results_json(&std::fs::canonicalize(&run_dir).unwrap());
    let html = std::fs::read_to_string(run_dir.join("index.html")).unwrap();
    assert!(html.contains("<td>undefined <span") && !html.replace("isNaN", "").contains("NaN"));
}

#[test]
fn darr_pairs_of_identical_texts_are_skipped_and_counted() {
    let pairs = [
        r#"{"src":"s1","ref":"the cat sat","better_sys":"A","better":"the cat sat","worse_sys":"B","worse":"cat"}"#,
        r#"{"src":"s2","ref":"a dog ran","better_sys":"A","better":"a dog","worse_sys":"B","worse":"a dog"}"#,
        r#"{"src":"s3","ref":"it rains","better_sys":"B","better":"it rains","worse_sys":"A","worse":"rain"}"#,
    ];
    let suite = "version: 1\nname: pairs\nbootstrap: 10\nmodels: [{id: chrf, kind: metric, metric: chrf}]\ntasks:\n  - id: p\n    type: human-agreement\n    dataset: {path: pairs.jsonl}\n    models: [chrf]\n    metrics: [darr_tau_like]\n";
    let dir = workspace(&[("suite.yaml", suite), ("pairs.jsonl", &pairs.join("\n"))]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 pairs whose better and worse translations are the same text: skipped"), "{err}");
    let rows = results(&dir.path().join("out/pairs/latest"));
    assert_eq!(value(&rows, "chrf", "darr_tau_like"), 1.0);
    // A statistic that needs ratings on a pairs file is refused before anything runs.
    let wrong = suite.replace("[darr_tau_like]", "[seg_kendall]");
    let dir = workspace(&[("suite.yaml", &wrong), ("pairs.jsonl", &pairs.join("\n"))]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(!out.status.success() && stderr(&out).contains("only darr_tau_like applies"), "{}", stderr(&out));
}

#[test]
fn human_references_as_systems_are_judged_against_the_other_references_and_never_correlated() {
    let suite = |refs: bool| {
        format!(
            "version: 1\nname: refs{refs}\nbootstrap: 10\nmodels: [{{id: bleu, kind: metric, metric: bleu}}]\ntasks:\n  - id: s\n    type: human-agreement\n    dataset: {{path: {}, limit: 5}}\n    references_as_systems: {refs}\n    permutations: 0\n    models: [bleu]\n    metrics: [item_spearman, seg_kendall, sys_pearson]\n",
            data("summeval")
        )
    };
    let (_a, with, err) = run(&suite(true));
    let (_b, without, _) = run(&suite(false));
    assert!(err.contains("55 human references added as systems"), "{err}");
    // Unrated references change no statistic.
    let (x, y) = (results(&with), results(&without));
    for (a, b) in x.iter().zip(&y) {
        assert_eq!((&a.1, &a.2, a.3), (&b.1, &b.2, b.3));
    }
    let points: Vec<Value> = serde_json::from_slice(&std::fs::read(with.join("human-systems.json")).unwrap()).unwrap();
    let ref1: Vec<&Value> = points.iter().filter(|p| p["system"] == "ref-1" && p["dimension"] == "relevance").collect();
    assert_eq!(ref1.len(), 1);
    assert!(ref1[0]["human"].is_null() && ref1[0]["score"].as_f64().unwrap() > 0.0, "{}", ref1[0]);
    // ref-1 (the original highlights) is scored against the 10 other references.
    let docs: Vec<Value> = {
        let file = std::fs::File::open(repo().join("data/human-judgments/summeval/docs.jsonl.gz")).unwrap();
        use std::io::BufRead;
        std::io::BufReader::new(flate2::read::GzDecoder::new(file))
            .lines()
            .take(5)
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect()
    };
    let cfg = lmgauge::metrics::bleu::BleuConfig::default();
    let mut total = lmgauge::metrics::bleu::BleuStats::zero(4);
    for d in &docs {
        let refs: Vec<&str> = d["references"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        total.add(&cfg.segment_stats(refs[0], &refs[1..]));
    }
    assert!((ref1[0]["score"].as_f64().unwrap() - cfg.score(&total).score).abs() < 1e-9);
    let html = std::fs::read_to_string(with.join("index.html")).unwrap();
    assert!(html.contains("<tr><td>ref-1</td><td>not rated</td>"), "no systems table");
}
