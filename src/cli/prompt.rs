//! `lmgauge show-prompt SUITE TASK ITEM [--model ID]`: the exact text a model of a suite is given
//! for one item — its few-shot examples, its chat template and system turn applied — and the
//! continuations scored after it. It reads the suite and the data and, for a chat model, only the
//! model file's template: no weights are loaded, so it answers at once for any model.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::vocabulary::{JsonArg, print_json};
use crate::error::Error;
use crate::models::neural::chat_source;
use crate::suite::ModelKind;
use crate::tasks::{for_def, load_suite};

#[derive(Debug, Args)]
pub struct ShowPromptArgs {
    /// The suite file.
    pub suite: PathBuf,
    /// A task of the suite (multiple-choice or generation).
    pub task: String,
    /// An item of the task, by the id its results carry (`file-stem:line`, or a generation
    /// prompt's number from 1).
    pub item: String,
    /// The model whose view is shown (default: the task's first model).
    #[arg(long)]
    pub model: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: ShowPromptArgs) -> Result<i32, Error> {
    let suite = load_suite(&args.suite)?;
    let def = suite.tasks.iter().find(|t| t.id == args.task).ok_or_else(|| {
        let ids: Vec<&str> = suite.tasks.iter().map(|t| t.id.as_str()).collect();
        Error::Usage(format!("suite {:?} has no task {:?} (tasks: {})", suite.name, args.task, ids.join(", ")))
    })?;
    let model_id = args.model.as_deref().unwrap_or_else(|| def.models.first().map(String::as_str).unwrap_or(""));
    if !def.models.iter().any(|m| m == model_id) {
        return Err(Error::Usage(format!(
            "task {} is not run with model {model_id:?} (its models: {})",
            def.id,
            def.models.join(", ")
        )));
    }
    let model = suite.models.iter().find(|m| m.id == model_id).expect("validated suites name their models");
    let base = suite.file.parent().unwrap_or(std::path::Path::new("."));
    let task = for_def(def, suite.seed, base).map_err(Error::Usage)?;
    let chat = matches!(&model.kind, ModelKind::Neural(source) if source.options.chat.is_some());
    let item = match task.prompt(&args.item, chat) {
        Some(found) => found.map_err(Error::Usage)?,
        None => {
            return Err(Error::Usage(format!(
                "task {} is of type {}, which gives its models no prompt (show-prompt reads multiple-choice and generation tasks)",
                def.id, def.task_type
            )));
        }
    };
    let (context, template) = match &model.kind {
        ModelKind::Neural(source) if source.options.chat.is_some() => {
            let chat = source.options.chat.as_ref().expect("checked above");
            let template = chat_source::chat_model_template(&source.path, chat.template.as_deref())
                .map_err(|e| Error::Model(e.into()))?;
            let text = item
                .prompt
                .render(&template, chat.system.as_deref())
                .map_err(|e| Error::Usage(format!("model {model_id}, item {}: {e}", args.item)))?;
            (text, Some(template.origin))
        }
        _ => (item.prompt.flat(), None),
    };
    if args.json.json {
        print_json(
            "show-prompt",
            json!({
                "task": def.id,
                "item": args.item,
                "model": model_id,
                "chat_template": template,
                "prompt": item.prompt,
                "context": context,
                "continuations": item.continuations,
            }),
        );
    } else {
        print!("{context}");
        for c in &item.continuations {
            println!("\n--- continuation: {c:?}");
        }
    }
    Ok(0)
}
