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
