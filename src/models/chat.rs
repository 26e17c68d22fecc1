//! Chat templates: the Jinja template a chat model ships (a GGUF file's `tokenizer.chat_template`,
//! a Hugging Face folder's `chat_template.jinja` or `tokenizer_config.json` `chat_template`, or a
//! file the suite names), rendered as transformers' `apply_chat_template(..., tokenize=False)`
//! renders it: `trim_blocks` and `lstrip_blocks` on, Python's string methods (minijinja-contrib's
//! pycompat), `raise_exception`, `strftime_now`, a `tojson` that writes what Python's
//! `json.dumps(x, ensure_ascii=False)` writes, and the variables `messages`,
//! `add_generation_prompt`, `bos_token` and `eos_token`.
//!
//! Templates are untrusted input: rendering runs on a fuel budget and an output bound, so a
//! template that loops forever or recurses without end is an error that names it, never a hang.

use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{Environment, Error as JinjaError, ErrorKind};
use serde::{Deserialize, Serialize};

/// Instructions a render may execute: far above any real template (SmolLM2's renders a
/// ten-turn conversation in a few hundred), low enough that an endless loop stops in
/// milliseconds.
const FUEL: u64 = 2_000_000;
/// The longest rendered conversation accepted.
const MAX_OUTPUT: usize = 8 << 20;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message { role: role.to_owned(), content: content.into() }
    }
}

/// A chat template with the special-token texts it is rendered with.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    /// Where the template came from, for errors: a file, or a file and the key inside it.
    pub origin: String,
    pub bos_token: String,
    pub eos_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{origin}: the chat template cannot be rendered: {message}")]
    Render { origin: String, message: String },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl ChatTemplate {
    pub fn new(source: String, origin: String, bos_token: String, eos_token: String) -> ChatTemplate {
        ChatTemplate { source, origin, bos_token, eos_token }
    }

    /// A template file the suite names (`chat_template: FILE`).
    pub fn from_file(path: &Path, bos_token: String, eos_token: String) -> Result<ChatTemplate, ChatError> {
        let source = std::fs::read_to_string(path).map_err(|e| ChatError::File {
            path: path.to_owned(),
            message: format!("cannot read the chat template: {e}"),
        })?;
        let template = ChatTemplate::new(source, path.display().to_string(), bos_token, eos_token);
        template.check()?;
        Ok(template)
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Parses the template without rendering it, so a broken one is refused when it is loaded.
    pub fn check(&self) -> Result<(), ChatError> {
        let env = self.environment();
        env.template_from_str(&self.source).map(|_| ()).map_err(|e| self.error(&e))
    }

    /// The conversation as the template writes it; with `add_generation_prompt`, followed by
    /// the opening of the assistant's turn.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, ChatError> {
        let env = self.environment();
        let template = env.template_from_str(&self.source).map_err(|e| self.error(&e))?;
        let context = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
            tools => Value::from(()),
            documents => Value::from(()),
        };
        let text = template.render(context).map_err(|e| self.error(&e))?;
        if text.len() > MAX_OUTPUT {
            return Err(ChatError::Render {
                origin: self.origin.clone(),
                message: format!("the rendered conversation is {} bytes, over the bound of {MAX_OUTPUT}", text.len()),
            });
        }
        Ok(text)
    }

    fn environment(&self) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_fuel(Some(FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |message: String| -> Result<Value, JinjaError> {
            Err(JinjaError::new(ErrorKind::InvalidOperation, message))
        });
        env.add_function("strftime_now", |format: String| strftime_now(&format).map(Value::from));
        env.add_filter("tojson", python_json);
        env
    }

    fn error(&self, e: &JinjaError) -> ChatError {
        // raise_exception's message is the template's own words: shown as they are.
        let message = match (e.kind(), e.detail()) {
            (ErrorKind::InvalidOperation, Some(detail)) => detail.to_owned(),
            _ => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(inner) = source {
                    text.push_str(&format!(": {inner}"));
                    source = inner.source();
                }
                text
            }
        };
        ChatError::Render { origin: self.origin.clone(), message }
    }
}

/// The chat template of a model file, with its special-token texts: a GGUF file's
/// `tokenizer.chat_template`, or a Hugging Face folder's `chat_template.jinja` or
/// `tokenizer_config.json` `chat_template` (the one named `default` when it lists several);
/// `override_file` replaces the model's own. None when the model has no template.
pub fn model_template(model: &Path, override_file: Option<&Path>) -> Result<Option<ChatTemplate>, ChatError> {
    Found::read(model)?.template(override_file)
}

/// The template a `chat: true` model runs with, or why the model cannot be one: it has no
/// template, or it is a SentencePiece GGUF file, whose tokenizer reads text as llama-perplexity
/// does (control tokens such as `<start_of_turn>` as plain characters). Suite validation and
/// model loading both ask here, so a suite is refused for the same reasons a load would fail.
pub fn chat_model_template(model: &Path, override_file: Option<&Path>) -> Result<ChatTemplate, ChatError> {
    let found = Found::read(model)?;
    let refuse = |message: &str| ChatError::File { path: model.to_owned(), message: message.to_owned() };
    let template = found
        .template(override_file)?
        .ok_or_else(|| refuse("chat: true, but the model has no chat template; give one with chat_template: FILE"))?;
    if found.sentencepiece {
        return Err(refuse(
            "chat: true is not supported for SentencePiece GGUF files yet: their tokenizer reads control tokens such as <start_of_turn> in text as plain characters",
        ));
    }
    Ok(template)
}

/// What a model file says about chat: its own template and where it is, the texts of its BOS
/// and EOS tokens, and whether it is a SentencePiece GGUF file.
struct Found {
    own: Option<(String, String)>,
    bos: String,
    eos: String,
    sentencepiece: bool,
}

impl Found {
    fn read(model: &Path) -> Result<Found, ChatError> {
        if !crate::models::neural::gguf::is_gguf(model) {
            return folder_template(model);
        }
        let error =
            |e: crate::models::neural::NeuralError| ChatError::File { path: model.to_owned(), message: e.to_string() };
        let g = crate::models::neural::gguf::Gguf::open(model).map_err(error)?;
        let tokens = g.opt_array("tokenizer.ggml.tokens").map_err(error)?;
        let token = |key: &str| -> Result<String, ChatError> {
            let id = g.opt_u64(key).map_err(error)?;
            Ok(id
                .and_then(|i| tokens.and_then(|t| t.strings()).and_then(|t| t.get(i as usize)))
                .cloned()
                .unwrap_or_default())
        };
        let own = g.opt_str("tokenizer.chat_template").map_err(error)?;
        Ok(Found {
            own: own.map(|t| (t.to_owned(), format!("{} (tokenizer.chat_template)", model.display()))),
            bos: token("tokenizer.ggml.bos_token_id")?,
            eos: token("tokenizer.ggml.eos_token_id")?,
            sentencepiece: g.opt_str("tokenizer.ggml.model").map_err(error)? == Some("llama"),
        })
    }

    fn template(&self, override_file: Option<&Path>) -> Result<Option<ChatTemplate>, ChatError> {
        let (bos, eos) = (self.bos.clone(), self.eos.clone());
        let template = match (override_file, &self.own) {
            (Some(file), _) => ChatTemplate::from_file(file, bos, eos)?,
            (None, Some((source, origin))) => ChatTemplate::new(source.clone(), origin.clone(), bos, eos),
            (None, None) => return Ok(None),
        };
        template.check()?;
        Ok(Some(template))
    }
}

/// A Hugging Face folder's template and special tokens.
fn folder_template(dir: &Path) -> Result<Found, ChatError> {
    let config_path = dir.join("tokenizer_config.json");
    let config: serde_json::Value = match std::fs::read(&config_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ChatError::File { path: config_path.clone(), message: format!("not valid JSON: {e}") })?,
        Err(_) => serde_json::Value::Null,
    };
    // A special token is a string, or an AddedToken object with `content`.
    let special = |key: &str| -> String {
        match &config[key] {
            serde_json::Value::String(s) => s.clone(),
            v => v["content"].as_str().unwrap_or_default().to_owned(),
        }
    };
    let (bos, eos) = (special("bos_token"), special("eos_token"));
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        let source = std::fs::read_to_string(&jinja)
            .map_err(|e| ChatError::File { path: jinja.clone(), message: format!("cannot read: {e}") })?;
        return Ok(Found { own: Some((source, jinja.display().to_string())), bos, eos, sentencepiece: false });
    }
    let origin = format!("{} (chat_template)", config_path.display());
    let own = match &config["chat_template"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(named) => {
            let default = named.iter().find(|t| t["name"] == "default").and_then(|t| t["template"].as_str());
            Some(default.map(str::to_owned).ok_or_else(|| ChatError::File {
                path: config_path.clone(),
                message: "chat_template lists named templates but none named \"default\"; give the suite's chat_template: a file".into(),
            })?)
        }
        serde_json::Value::Null => None,
        _ => {
            return Err(ChatError::File {
                path: config_path.clone(),
                message: "chat_template is neither a string nor a list of named templates".into(),
            });
        }
    };
    Ok(Found { own: own.map(|s| (s, origin)), bos, eos, sentencepiece: false })
}

/// The current date and time (UTC) in a strftime format, as transformers' `strftime_now` gives
/// it (templates such as Llama 3.1's print today's date); a format chrono cannot write is an
/// error naming it.
fn strftime_now(format: &str) -> Result<String, JinjaError> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", chrono::Utc::now().format(format)).map_err(|_| {
        JinjaError::new(ErrorKind::InvalidOperation, format!("strftime_now: invalid format {format:?}"))
    })?;
    Ok(out)
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False)` — `", "` and `": "` between
/// items, non-ASCII written as it is, keys in their order (not HTML-escaped, unlike Jinja's own).
fn python_json(value: Value) -> Result<Value, JinjaError> {
    let mut out = String::new();
    write_python_json(&value, &mut out)?;
    Ok(Value::from(out))
}

fn write_python_json(v: &Value, out: &mut String) -> Result<(), JinjaError> {
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Undefined | K::None => out.push_str("null"),
        K::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        K::Number if v.is_integer() => out.push_str(&v.to_string()),
        K::Number => out.push_str(&format!("{:?}", f64::try_from(v.clone())?)),
        K::String => write_python_string(v.as_str().unwrap_or_default(), out),
        K::Seq | K::Iterable => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(&item, out)?;
            }
            out.push(']');
        }
        K::Map => {
            out.push('{');
            for (i, key) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(&key.to_string(), out);
                out.push_str(": ");
                write_python_json(&v.get_item(&key)?, out)?;
            }
            out.push('}');
        }
        _ => {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                format!("tojson cannot write a {} value", v.kind()),
            ));
        }
    }
    Ok(())
}

fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(source: &str) -> ChatTemplate {
        ChatTemplate::new(source.into(), "test".into(), "<s>".into(), "</s>".into())
    }

    #[test]
    fn endless_templates_run_out_of_fuel_and_name_the_template() {
        let t = template("{% for i in range(100000000) %}{{ i }}{% endfor %}");
        let e = t.render(&[], false).unwrap_err().to_string();
        assert!(e.starts_with("test: the chat template cannot be rendered"), "{e}");
        let t = template("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        assert!(t.render(&[], false).is_err());
    }

    #[test]
    fn raise_exception_shows_the_template_s_message() {
        let t = template("{{ raise_exception('roles must alternate') }}");
        assert_eq!(
            t.render(&[], true).unwrap_err().to_string(),
            "test: the chat template cannot be rendered: roles must alternate"
        );
    }

    #[test]
    fn tojson_writes_what_python_json_dumps_writes() {
        let t = template("{{ messages | tojson }} {{ {'b': 1, 'a': [1.5, none, true]} | tojson }}");
        let m = [Message::new("user", "é \"q\"\n")];
        assert_eq!(
            t.render(&m, false).unwrap(),
            "[{\"role\": \"user\", \"content\": \"é \\\"q\\\"\\n\"}] {\"b\": 1, \"a\": [1.5, null, true]}"
        );
    }

    #[test]
    fn strftime_now_writes_today_and_refuses_a_broken_format() {
        let today = chrono::Utc::now().format("%d %b %Y").to_string();
        assert_eq!(template("{{ strftime_now('%d %b %Y') }}").render(&[], false).unwrap(), today);
        let e = template("{{ strftime_now('%Q') }}").render(&[], false).unwrap_err().to_string();
        assert!(e.contains("strftime_now: invalid format"), "{e}");
    }
}
