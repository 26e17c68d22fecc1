//! BERTScore judges (`kind: encoder`, issue #34) from the command line: every output's
//! precision, recall and F1 equal to the bert-score package's on the same model folders within
//! 1e-5 (tests/fixtures/human-agreement/bertscore.json, written by scripts/bertscore-fixture.py
//! on the first 8 SummEval documents: all-MiniLM-L6-v2 at layers 6 and 4 with idf, the bert-tiny
//! MLM folder at layer 2); options that do not apply, and layers that do not exist, refused by name.

use serde_json::Value;

use crate::common::{lmgauge, real_model, repo, stderr, workspace};

fn fixture() -> Value {
    let path = repo().join("tests/fixtures/human-agreement/bertscore.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn bertscore_equals_the_bert_score_package_on_summeval() {
    if real_model("models/all-minilm-l6-v2/model.safetensors").is_none()
        || real_model("models/splade-tiny-bert/model.safetensors").is_none()
    {
        return;
    }
    let fx = fixture();
    let recipes = fx["recipes"].as_object().unwrap();
    let mut models = String::new();
    for (name, r) in recipes {
        models += &format!(
            "  - {{id: {name}, kind: encoder, path: {}, layer: {}, idf: {}}}\n",
            repo().join(r["path"].as_str().unwrap()).display(),
            r["layer"],
            r["idf"]
        );
    }
    let names: Vec<&str> = recipes.keys().map(String::as_str).collect();
    let suite = format!(
        "version: 1\nname: bs\nmodels:\n{models}tasks:\n  - id: summeval\n    type: human-agreement\n    \
         dataset: {{path: {}, limit: {}}}\n    references_as_systems: true\n    models: [{}]\n    \
         metrics: [item_kendall, seg_kendall]\n    permutations: 0\n",
        repo().join("data/human-judgments/summeval").display(),
        fx["documents"],
        names.join(", ")
    );
    let dir = workspace(&[("suite.yaml", &suite)]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, r) in recipes {
        let job = dir.path().join(format!("out/bs/latest/jobs/summeval__{name}.json"));
        let job: Value = serde_json::from_slice(&std::fs::read(job).unwrap()).unwrap();
        let items: std::collections::HashMap<&str, &Value> =
            job["items"].as_array().unwrap().iter().map(|it| (it["id"].as_str().unwrap(), &it["scores"])).collect();
        let expected = r["scores"].as_object().unwrap();
        assert_eq!(expected.len(), 128);
        let mut worst = 0.0f64;
        for (key, prf) in expected {
            let got = items.get(key.as_str()).unwrap_or_else(|| panic!("{name}: no output {key}"));
            for (k, part) in ["precision", "recall", "f1"].iter().enumerate() {
                let want = prf[k].as_f64().unwrap();
                let have = got[format!("judge.bertscore_{part}")].as_f64().unwrap();
                worst = worst.max((have - want).abs());
                assert!((have - want).abs() <= 1e-5, "{name} {key} {part}: lmgauge {have}, bert-score {want}");
            }
        }
        eprintln!("{name}: largest difference from bert-score {worst:.2e}");
        // A human reference judged as a system is matched against the other ten, never itself.
        let first_doc = expected.keys().next().unwrap().split('/').next().unwrap();
        let own = items[format!("{first_doc}/ref-1").as_str()]["judge.bertscore_f1"].as_f64().unwrap();
        assert!(own > 0.3 && own < 0.99, "{name}: ref-1 against the other references: {own}");
    }
}

#[test]
fn encoder_options_that_do_not_apply_and_missing_layers_are_refused_by_name() {
    let Some(model) = real_model("models/all-minilm-l6-v2/model.safetensors") else { return };
    let folder = model.parent().unwrap().display().to_string();
    let data = repo().join("data/human-judgments/summeval").display().to_string();
    let suite = |model: &str, task_type: &str| {
        format!(
            "version: 1\nname: bad\nmodels:\n  - {model}\ntasks:\n  - id: t\n    type: {task_type}\n    \
             dataset: {{path: {data}, limit: 1}}\n    models: [m]\n    metrics: [{}]\n",
            if task_type == "perplexity" { "token_perplexity" } else { "seg_kendall" }
        )
    };
    let refused = |yaml: String| {
        let dir = workspace(&[("suite.yaml", &yaml)]);
        let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
        assert!(!out.status.success(), "{yaml}");
        stderr(&out)
    };
    let err = refused(suite(&format!("{{id: m, kind: causal, path: {folder}, idf: true}}"), "human-agreement"));
    assert!(err.contains("suite.yaml:4:") && err.contains("applies to encoders (kind: encoder) only"), "{err}");
    let err = refused(suite(&format!("{{id: m, kind: encoder, path: {folder}, layer: 0}}"), "human-agreement"));
    assert!(err.contains("suite.yaml:4:") && err.contains("layers count from 1"), "{err}");
    let err = refused(suite(&format!("{{id: m, kind: encoder, path: {folder}, stride: 8}}"), "human-agreement"));
    assert!(err.contains("suite.yaml:4:") && err.contains("`stride` does not apply to encoders"), "{err}");
    let err = refused(suite(&format!("{{id: m, kind: encoder, path: {folder}}}"), "perplexity"));
    assert!(err.contains("needs token scoring, which model \"m\" (kind encoder) cannot do"), "{err}");
    // A layer the folder does not have fails the job, naming config.json and the layers there are.
    let dir = workspace(&[(
        "suite.yaml",
        &suite(&format!("{{id: m, kind: encoder, path: {folder}, layer: 7}}"), "human-agreement"),
    )]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("config.json") && err.contains("layer 7 does not exist: the encoder has layers 1 to 6"),
        "{err}"
    );
}
