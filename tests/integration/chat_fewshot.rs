//! Few-shot prompts and chat templates equal to lm-evaluation-harness 0.4.5 (issue #36), request
//! by request: tests/fixtures/multiple-choice/chat-fewshot.json (scripts/chat-fewshot-fixtures.py)
//! holds the harness's rendered context, continuations, log-likelihoods and acc/acc_norm of 40
//! items in three runs on SmolLM2 — the chat template with a system instruction and three examples
//! as turns, the chat template with two examples in one user turn drawn from a separate file, and
//! two examples without a template and with another delimiter. The suite runs from the command
//! line, every item's prompt is read back with `show-prompt` and must equal the harness's byte for
//! byte, and every log-likelihood must be within 1e-4.

use serde_json::Value;

use crate::common::{lmgauge, real_model, repo, stderr, stdout, workspace};

const GGUF: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn fixture() -> Value {
    let path = repo().join("tests/fixtures/multiple-choice/chat-fewshot.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The suite of the three harness runs: one model entry and one task per run.
fn suite(fx: &Value) -> String {
    let gguf = repo().join(GGUF).display().to_string();
    let pool = repo().join("tests/fixtures/multiple-choice/fewshot-pool.jsonl").display().to_string();
    let mut models = String::new();
    let mut tasks = String::new();
    for (name, run) in fx["runs"].as_object().unwrap() {
        let chat = if run["chat"].as_bool().unwrap() { ", chat: true" } else { "" };
        let system = match run["system"].as_str() {
            Some(s) => format!(", system: {}", serde_json::to_string(s).unwrap()),
            None => String::new(),
        };
        models +=
            &format!("  - {{id: m-{name}, kind: causal, path: {gguf}, device: cpu, compute: f32{chat}{system}}}\n");
        let split = if run["fewshot"] == "pool" { format!("    fewshot_split: {pool}\n") } else { String::new() };
        tasks += &format!(
            "  - id: {name}\n    type: multiple-choice\n    dataset: {{path: {}, limit: {}}}\n    models: [m-{name}]\n    \
             metrics: [acc, acc_norm]\n    num_fewshot: {}\n    fewshot_delimiter: {}\n    fewshot_as_multiturn: {}\n{split}",
            repo().join(run["data"].as_str().unwrap()).display(),
            fx["limit"],
            run["k"],
            serde_json::to_string(&run["delimiter"]).unwrap(),
            run["multiturn"],
        );
    }
    format!("version: 1\nname: fewshot\nmodels:\n{models}tasks:\n{tasks}")
}

fn close(g: f64, w: f64) -> bool {
    (g - w).abs() <= 1e-4 * w.abs().max(1.0)
}

#[test]
fn fewshot_chat_prompts_and_scores_equal_lm_evaluation_harness() {
    if real_model(GGUF).is_none() {
        return;
    }
    let fx = fixture();
    let dir = workspace(&[("suite.yaml", &suite(&fx))]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, run) in fx["runs"].as_object().unwrap() {
        let job = dir.path().join(format!("out/fewshot/latest/jobs/{name}__m-{name}.json"));
        let job: Value = serde_json::from_slice(&std::fs::read(job).unwrap()).unwrap();
        let items = job["items"].as_array().unwrap();
        let want = run["items"].as_array().unwrap();
        assert_eq!(items.len(), want.len(), "{name}");
        let (mut acc, mut worst) = (0.0, 0.0f64);
        for (got, w) in items.iter().zip(want) {
            assert_eq!(got["id"], w["id"], "{name}");
            let id = w["id"].as_str().unwrap();
            // The rendered prompt, byte for byte.
            let shown = lmgauge(dir.path(), &["show-prompt", "suite.yaml", name, id, "--json"]);
            assert!(shown.status.success(), "{}", stderr(&shown));
            let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
            assert_eq!(shown["context"], w["context"], "{name} {id}: the prompt differs from the harness's");
            assert_eq!(shown["continuations"], w["continuations"], "{name} {id}");
            // Every request's log-likelihood.
            let lls: Vec<f64> = (0..w["logliks"].as_array().unwrap().len())
                .map(|k| got["scores"][format!("ll.{k}")].as_f64().unwrap())
                .collect();
            for (g, h) in lls.iter().zip(w["logliks"].as_array().unwrap()) {
                let h = h.as_f64().unwrap();
                worst = worst.max((g - h).abs());
                assert!(close(*g, h), "{name} {id}: lmgauge {lls:?}, lm-evaluation-harness {}", w["logliks"]);
            }
            let best = lls.iter().enumerate().fold(0, |b, (k, v)| if *v > lls[b] { k } else { b });
            acc += (best as f64 == got["scores"]["gold"].as_f64().unwrap()) as u8 as f64;
            assert_eq!(best as f64 == got["scores"]["gold"].as_f64().unwrap(), w["acc"].as_f64().unwrap() == 1.0);
        }
        assert!((acc / items.len() as f64 - run["acc"].as_f64().unwrap()).abs() < 1e-12, "{name} acc");
        eprintln!("{name}: largest log-likelihood difference from lm-evaluation-harness {worst:.2e}");
    }
}

#[test]
fn fewshot_keys_and_pools_are_checked() {
    let data = repo().join("data/multiple-choice/wikitext-endings.jsonl").display().to_string();
    let train = repo().join("tests/fixtures/kenlm/wiki-5.arpa.gz").display().to_string();
    let suite = |extra: &str| {
        format!(
            "version: 1\nname: bad\nmodels:\n  - {{id: kn, kind: ngram, arpa: {train}}}\ntasks:\n  - id: t\n    \
             type: multiple-choice\n    dataset: {{path: {data}}}\n    models: [kn]\n    metrics: [acc]\n{extra}"
        )
    };
    let refused = |extra: &str, needle: &str| {
        let dir = workspace(&[("suite.yaml", &suite(extra))]);
        let out = lmgauge(dir.path(), &["validate", "suite.yaml"]);
        assert_eq!(out.status.code(), Some(2), "{extra}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{extra}: {}", stderr(&out));
    };
    refused("    fewshot_as_multiturn: true\n", "`fewshot_as_multiturn` needs `num_fewshot` of at least 1");
    refused("    num_fewshot: 1\n    fewshot_sampler: balanced\n", "unknown sampler \"balanced\"");
    refused("    num_fewshot: 1\n    fewshot_split: nowhere.jsonl\n", "nowhere.jsonl does not exist");
    // More examples than the data holds: the job fails naming the pool; nothing else is lost.
    let dir = workspace(&[("suite.yaml", &suite("    num_fewshot: 120\n"))]);
    let out = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("num_fewshot 120 needs 121 examples (120 and the item itself, which is left out)"),
        "{}",
        stderr(&out)
    );
    // show-prompt names what it cannot find.
    let dir = workspace(&[("suite.yaml", &suite("    num_fewshot: 2\n"))]);
    let out = lmgauge(dir.path(), &["show-prompt", "suite.yaml", "t", "wikitext-endings:999"]);
    assert!(stderr(&out).contains("task t has no item \"wikitext-endings:999\""), "{}", stderr(&out));
    let out = lmgauge(dir.path(), &["show-prompt", "suite.yaml", "t", "wikitext-endings:2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\n\n") && stdout(&out).contains("--- continuation: "), "{}", stdout(&out));
}
