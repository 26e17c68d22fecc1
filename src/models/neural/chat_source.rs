//! Where a model file keeps its chat template (rendered by `models::chat`): a GGUF file's
//! `tokenizer.chat_template`, a Hugging Face folder's `chat_template.jinja` or
//! `tokenizer_config.json`, with the texts of its BOS and EOS tokens; and whether the model can
//! be run as a chat model at all.

use std::path::Path;

use crate::models::chat::{ChatError, ChatTemplate};

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
        if !super::gguf::is_gguf(model) {
            return folder_template(model);
        }
        let error = |e: super::NeuralError| ChatError::File { path: model.to_owned(), message: e.to_string() };
        let g = super::gguf::Gguf::open(model).map_err(error)?;
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
