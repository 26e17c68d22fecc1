//! `lmgauge chat-template [MODEL] --messages FILE`: a conversation rendered by a model's chat
//! template (or a template file), exactly the text a `chat: true` model is given — so users see
//! what the model saw, and template authors can test theirs.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::vocabulary::{JsonArg, print_json};
use crate::error::Error;
use crate::models::chat::{ChatError, ChatTemplate, Message};
use crate::models::neural::chat_source;

#[derive(Debug, Args)]
pub struct ChatTemplateArgs {
    /// A GGUF file or Hugging Face model folder whose chat template renders the conversation.
    pub model: Option<PathBuf>,
    /// A Jinja template file to use instead of the model's (the suite's `chat_template:`).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// A JSON file holding the conversation: a list of {"role", "content"} objects.
    #[arg(long)]
    pub messages: PathBuf,
    /// Leave out the opening of the assistant's turn (`add_generation_prompt=False`).
    #[arg(long)]
    pub no_generation_prompt: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: ChatTemplateArgs) -> Result<i32, Error> {
    let bytes = std::fs::read(&args.messages).map_err(|e| Error::io(&args.messages, e))?;
    let messages: Vec<Message> = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Usage(format!(
            "{}: line {}: not a list of {{\"role\", \"content\"}} messages: {e}",
            args.messages.display(),
            e.line()
        ))
    })?;
    let template = match (&args.model, &args.template) {
        (Some(model), over) => {
            chat_source::model_template(model, over.as_deref()).map_err(model_error)?.ok_or_else(|| {
                Error::Usage(format!(
                    "{}: the model has no chat template; give one with --template FILE",
                    model.display()
                ))
            })?
        }
        (None, Some(file)) => ChatTemplate::from_file(file, String::new(), String::new()).map_err(model_error)?,
        (None, None) => return Err(Error::Usage("give a model (GGUF file or model folder) or --template FILE".into())),
    };
    let rendered = template.render(&messages, !args.no_generation_prompt).map_err(model_error)?;
    if args.json.json {
        print_json("chat-template", json!({"template": template.origin, "rendered": rendered}));
    } else {
        print!("{rendered}");
    }
    Ok(0)
}

fn model_error(e: ChatError) -> Error {
    Error::Model(e.into())
}
