//! Chat templates (issue #36) rendered byte for byte as transformers 4.46.3 renders them
//! (tests/fixtures/chat-templates/expected.json, written by scripts/chat-template-fixtures.py):
//! SmolLM2's own template from its GGUF file and three templates that exercise the Python string
//! methods, `namespace`, slicing, `tojson` and `raise_exception` Hugging Face templates rely on;
//! and `lmgauge chat-template` from the command line.

use serde_json::Value;

use lmgauge::models::chat::{ChatTemplate, Message};
use lmgauge::models::neural::chat_source;

use crate::common::{lmgauge, real_model, repo, stderr, workspace};

fn fixture() -> Value {
    let path = repo().join("tests/fixtures/chat-templates/expected.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn messages(v: &Value) -> Vec<Message> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn templates_render_as_transformers_renders_them() {
    let fx = fixture();
    let mut checked = 0;
    for case in fx["cases"].as_array().unwrap() {
        let source = case["template"].as_str().unwrap();
        let template = if let Some(rel) = source.strip_prefix("gguf:") {
            let Some(path) = real_model(rel) else { continue };
            let t = chat_source::model_template(&path, None).unwrap().expect("SmolLM2's GGUF has a chat template");
            assert_eq!(
                (t.bos_token.as_str(), t.eos_token.as_str()),
                (case["bos_token"].as_str().unwrap(), case["eos_token"].as_str().unwrap())
            );
            t
        } else {
            let path = repo().join(source.strip_prefix("file:").unwrap());
            let (bos, eos) =
                (case["bos_token"].as_str().unwrap().to_owned(), case["eos_token"].as_str().unwrap().to_owned());
            ChatTemplate::from_file(&path, bos, eos).unwrap()
        };
        let conversation = &fx["conversations"][case["conversation"].as_str().unwrap()];
        let got = template.render(&messages(conversation), case["add_generation_prompt"].as_bool().unwrap());
        let what = format!("{source} {} {}", case["conversation"], case["add_generation_prompt"]);
        match (&case["rendered"], &case["error"]) {
            (Value::String(want), _) => assert_eq!(got.unwrap(), *want, "{what}"),
            (_, Value::String(message)) => {
                let e = got.unwrap_err().to_string();
                assert!(e.ends_with(message.as_str()) && e.contains(source.trim_start_matches("file:")), "{what}: {e}");
            }
            _ => panic!("{what}: the fixture has neither rendered text nor an error"),
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cases ran");
}

#[test]
fn chat_template_command_renders_a_conversation_and_refuses_what_cannot_render() {
    let ws = workspace(&[
        ("conversation.json", r#"[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]"#),
        ("loop.jinja", "{% for i in range(100000000) %}x{% endfor %}"),
        ("bad.json", r#"[{"role": "user"}]"#),
    ]);
    let template = repo().join("tests/fixtures/chat-templates/templates/user-first.jinja");
    let template = template.to_str().unwrap();
    let out = lmgauge(ws.path(), &["chat-template", "--template", template, "--messages", "conversation.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SYSTEM: Be brief.\nUSER: Hi\nASSISTANT:");
    let out = lmgauge(
        ws.path(),
        &[
            "chat-template",
            "--template",
            template,
            "--messages",
            "conversation.json",
            "--no-generation-prompt",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rendered"], "SYSTEM: Be brief.\nUSER: Hi\n");
    let out = lmgauge(ws.path(), &["chat-template", "--template", "loop.jinja", "--messages", "conversation.json"]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("loop.jinja: the chat template cannot be rendered"), "{err}");
    let out = lmgauge(ws.path(), &["chat-template", "--template", template, "--messages", "bad.json"]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("bad.json") && err.contains("content"), "{err}");
    // A model file without a template says so, naming it.
    let Some(gemma) = real_model("models/gemma3/gemma-3-270m-q4_k_m.gguf") else { return };
    let out = lmgauge(ws.path(), &["chat-template", gemma.to_str().unwrap(), "--messages", "conversation.json"]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("gemma-3-270m-q4_k_m.gguf") && err.contains("no chat template"),
        "{err}"
    );
}

/// A chat model scores each choice after the rendered conversation, exactly as the plain model
/// scores it after that text given as the context (SmolLM2, whose template starts with its BOS
/// text); the suite's paired test says whether the template changed the result; the keys that
/// need `chat: true`, a chat model in a task that reads raw text, and a model without a template
/// are refused by name.
#[test]
fn a_chat_model_scores_choices_after_the_rendered_conversation() {
    let Some(model) = real_model("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let model = model.display().to_string();
    let questions = [
        ("The capital of France is", ["Paris.", "Berlin.", "a river."], 0),
        ("Water freezes at", ["zero degrees Celsius.", "the top of the hill.", "noon."], 0),
        ("The opposite of hot is", ["cold.", "loud.", "green."], 0),
    ];
    let ws = workspace(&[]);
    let mut plain = String::new();
    let mut rendered = String::new();
    for (k, (context, choices, gold)) in questions.iter().enumerate() {
        let conversation =
            serde_json::json!([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": context}]);
        let file = format!("conversation{k}.json");
        std::fs::write(ws.path().join(&file), conversation.to_string()).unwrap();
        let out = lmgauge(ws.path(), &["chat-template", &model, "--messages", &file]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("<|im_start|>system\nAnswer briefly.<|im_end|>")
                && text.ends_with("<|im_start|>assistant\n"),
            "{text}"
        );
        plain += &format!("{}\n", serde_json::json!({"context": context, "choices": choices, "gold": gold}));
        rendered += &format!("{}\n", serde_json::json!({"context": text, "choices": choices, "gold": gold}));
    }
    std::fs::write(ws.path().join("plain.jsonl"), plain).unwrap();
    std::fs::write(ws.path().join("rendered.jsonl"), rendered).unwrap();
    let suite = format!(
        "version: 1\nname: chat\nmodels:\n  - {{id: raw, kind: causal, path: {model}}}\n  \
         - {{id: chat, kind: causal, path: {model}, chat: true, system: Answer briefly.}}\ntasks:\n  \
         - {{id: plain, type: multiple-choice, dataset: {{path: plain.jsonl}}, models: [raw, chat], metrics: [acc]}}\n  \
         - {{id: rendered, type: multiple-choice, dataset: {{path: rendered.jsonl}}, models: [raw], metrics: [acc]}}\n"
    );
    std::fs::write(ws.path().join("suite.yaml"), suite).unwrap();
    let out = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(ws.path().join(format!("out/chat/latest/jobs/{name}.json"))).unwrap())
            .unwrap()
    };
    let scores = |v: &Value| v["items"].as_array().unwrap().iter().map(|it| it["scores"].clone()).collect::<Vec<_>>();
    let (chat, by_hand, raw) = (job("plain__chat"), job("rendered__raw"), job("plain__raw"));
    // Only the number of characters of each choice (acc_norm) is the same in all three.
    let lls = |v: &Value| -> Vec<f64> {
        scores(v)
            .iter()
            .flat_map(|s| (0..3).map(|i| s[format!("ll.{i}")].as_f64().unwrap()).collect::<Vec<_>>())
            .collect()
    };
    assert_eq!(
        lls(&chat),
        lls(&by_hand),
        "the chat model must score exactly what the plain model scores after the rendered text"
    );
    assert_ne!(lls(&chat), lls(&raw));
    let pairwise = std::fs::read_to_string(ws.path().join("out/chat/latest/pairwise.csv")).unwrap();
    assert!(pairwise.lines().any(|l| l.contains("plain") && l.contains("raw") && l.contains("chat")), "{pairwise}");

    let refused = |models: &str, task_type: &str, metric: &str| {
        let yaml = format!(
            "version: 1\nname: bad\nmodels:\n{models}tasks:\n  - {{id: t, type: {task_type}, dataset: {{path: plain.jsonl}}, models: [m], metrics: [{metric}]}}\n"
        );
        std::fs::write(ws.path().join("bad.yaml"), yaml).unwrap();
        let out = lmgauge(ws.path(), &["validate", "bad.yaml"]);
        assert!(!out.status.success());
        stderr(&out)
    };
    let err =
        refused(&format!("  - {{id: m, kind: causal, path: {model}, system: Be brief.}}\n"), "multiple-choice", "acc");
    assert!(err.contains("`system` needs `chat: true`"), "{err}");
    let err =
        refused(&format!("  - {{id: m, kind: causal, path: {model}, chat: true}}\n"), "perplexity", "token_perplexity");
    assert!(err.contains("is a chat model (chat: true)") && err.contains("scores raw text"), "{err}");
    if let Some(gemma) = real_model("models/gemma3/gemma-3-270m-q4_k_m.gguf") {
        let err = refused(
            &format!("  - {{id: m, kind: causal, path: {}, chat: true}}\n", gemma.display()),
            "multiple-choice",
            "acc",
        );
        assert!(err.contains("has no chat template; give one with chat_template: FILE"), "{err}");
        let template = repo().join("tests/fixtures/chat-templates/templates/user-first.jinja");
        let with_template = format!(
            "  - {{id: m, kind: causal, path: {}, chat: true, chat_template: {}}}\n",
            gemma.display(),
            template.display()
        );
        let err = refused(&with_template, "multiple-choice", "acc");
        assert!(err.contains("not supported for SentencePiece GGUF files yet"), "{err}");
    }
}

#[test]
fn a_chat_model_judges_hh_pairs_as_conversations() {
    let Some(model) = real_model("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let model = model.display().to_string();
    // Dialogues as HH-RLHF writes them, and the same turns as messages.
    // (earlier exchanges, last question, chosen, rejected)
    type Dialogue<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let dialogues: [Dialogue; 2] = [
        (&[], "What is the capital of France?", "Paris.", "I would rather not say."),
        (&[("Hi there.", "Hello! How can I help?")], "Name a cold place.", "Antarctica.", "The sun."),
    ];
    let ws = workspace(&[]);
    let (mut pairs, mut rendered) = (String::new(), String::new());
    for (k, (earlier, question, chosen, rejected)) in dialogues.iter().enumerate() {
        let mut transcript = String::new();
        let mut messages = Vec::new();
        for (human, assistant) in earlier.iter() {
            transcript += &format!("\n\nHuman: {human}\n\nAssistant: {assistant}");
            messages.push(serde_json::json!({"role": "user", "content": human}));
            messages.push(serde_json::json!({"role": "assistant", "content": assistant}));
        }
        transcript += &format!("\n\nHuman: {question}\n\nAssistant:");
        messages.push(serde_json::json!({"role": "user", "content": question}));
        let file = format!("dialogue{k}.json");
        std::fs::write(ws.path().join(&file), serde_json::Value::Array(messages).to_string()).unwrap();
        let out = lmgauge(ws.path(), &["chat-template", &model, "--messages", &file]);
        assert!(out.status.success(), "{}", stderr(&out));
        let context = String::from_utf8(out.stdout).unwrap();
        pairs += &format!(
            "{}\n",
            serde_json::json!({"chosen": format!("{transcript} {chosen}"), "rejected": format!("{transcript} {rejected}")})
        );
        rendered += &format!("{}\n", serde_json::json!({"context": context, "choices": [chosen, rejected], "gold": 0}));
    }
    std::fs::write(ws.path().join("pairs.jsonl"), &pairs).unwrap();
    std::fs::write(ws.path().join("rendered.jsonl"), rendered).unwrap();
    let suite = format!(
        "version: 1\nname: hh\nmodels:\n  - {{id: raw, kind: causal, path: {model}}}\n  \
         - {{id: chat, kind: causal, path: {model}, chat: true}}\ntasks:\n  \
         - {{id: pairs, type: preference, dataset: {{path: pairs.jsonl}}, models: [chat], metrics: [accuracy]}}\n  \
         - {{id: rendered, type: multiple-choice, dataset: {{path: rendered.jsonl}}, target_delimiter: '', models: [raw], metrics: [acc]}}\n"
    );
    std::fs::write(ws.path().join("suite.yaml"), &suite).unwrap();
    let out = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(ws.path().join(format!("out/hh/latest/jobs/{name}.json"))).unwrap())
            .unwrap()
    };
    let (judged, by_hand) = (job("pairs__chat"), job("rendered__raw"));
    for (j, h) in judged["items"].as_array().unwrap().iter().zip(by_hand["items"].as_array().unwrap()) {
        for (side, k) in [("chosen", 0), ("rejected", 1)] {
            let (a, b) = (j["scores"][side].as_f64().unwrap(), h["scores"][format!("ll.{k}")].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-9 * b.abs(), "{side}: chat judge {a}, rendered by hand {b}");
        }
    }
    // A dialogue whose turns do not alternate fails the job, naming model, task, line and turn.
    std::fs::write(
        ws.path().join("pairs.jsonl"),
        format!("{pairs}{}\n", serde_json::json!({"chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: yes", "rejected": "\n\nHuman: a\n\nHuman: b\n\nAssistant: no"})),
    )
    .unwrap();
    let out = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out2"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains(
            "model chat, task pairs, pair at line 3: turn 2 is a Human turn where an Assistant turn should follow"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_template_that_fails_in_a_task_fails_the_job_naming_model_and_item() {
    let Some(model) = real_model("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let template = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('this model takes no system turn') }}\
                    {% endif %}{{ m.content }}{% endfor %}";
    let ws = workspace(&[
        ("t.jinja", template),
        ("q.jsonl", "{\"context\": \"2+2 =\", \"choices\": [\"4\", \"5\"], \"gold\": 0}\n"),
    ]);
    let suite = format!(
        "version: 1\nname: bad\nmodels:\n  - {{id: m, kind: causal, path: {}, chat: true, system: Be brief., \
         chat_template: t.jinja}}\ntasks:\n  - {{id: t, type: multiple-choice, dataset: {{path: q.jsonl}}, models: [m], \
         metrics: [acc]}}\n",
        model.display()
    );
    std::fs::write(ws.path().join("suite.yaml"), suite).unwrap();
    let out = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("model m, item q:1") && err.contains("this model takes no system turn"), "{err}");
    // show-prompt says the same without running anything.
    let out = lmgauge(ws.path(), &["show-prompt", "suite.yaml", "t", "q:1"]);
    assert!(stderr(&out).contains("this model takes no system turn"), "{}", stderr(&out));
}
