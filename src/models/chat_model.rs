//! A causal LM used as a chat model (`chat: true`): tasks ask it to render their prompts
//! ([`LanguageModel::render_prompt`]), and it writes them through its chat template, after an
//! optional system turn, with the opening of the assistant's turn — what lm-evaluation-harness's
//! `--apply_chat_template --system_instruction` does. The continuation of a scored request
//! follows the rendered context as the assistant's answer. Scoring and generation themselves
//! are the wrapped model's, unchanged, so raw text (perplexity) reads as it always did.

use std::sync::Arc;

use super::chat::ChatTemplate;
use super::prompt::Prompt;
use super::{Generator, LanguageModel, ModelError, NextTokenDistributions, TokenScorer};

pub struct ChatModel {
    inner: Arc<dyn LanguageModel>,
    template: ChatTemplate,
    system: Option<String>,
}

impl ChatModel {
    pub fn new(inner: Arc<dyn LanguageModel>, template: ChatTemplate, system: Option<String>) -> ChatModel {
        ChatModel { inner, template, system }
    }
}

impl LanguageModel for ChatModel {
    fn describe(&self) -> String {
        let system = match &self.system {
            Some(s) => format!(", system prompt {s:?}"),
            None => String::new(),
        };
        format!("{}; chat template of {}{system}", self.inner.describe(), self.template.origin)
    }

    fn token_scorer(&self) -> Option<&dyn TokenScorer> {
        self.inner.token_scorer()
    }

    fn generator(&self) -> Option<&dyn Generator> {
        self.inner.generator()
    }

    fn distributions(&self) -> Option<&dyn NextTokenDistributions> {
        self.inner.distributions()
    }

    fn render_prompt(&self, prompt: &Prompt) -> Result<String, ModelError> {
        Ok(prompt.render(&self.template, self.system.as_deref())?)
    }

    fn is_chat(&self) -> bool {
        true
    }
}
