//! Chat templates (issue #36) rendered byte for byte as transformers 4.46.3 renders them
//! (tests/fixtures/chat-templates/expected.json, written by scripts/chat-template-fixtures.py):
//! SmolLM2's own template from its GGUF file and three templates that exercise the Python string
//! methods, `namespace`, slicing, `tojson` and `raise_exception` Hugging Face templates rely on;
//! and `lmgauge chat-template` from the command line.

use serde_json::Value;

use lmgauge::models::chat::{self, ChatTemplate, Message};

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
            let t = chat::model_template(&path, None).unwrap().expect("SmolLM2's GGUF has a chat template");
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
