//! A causal LM used as a chat model (`chat: true`): every scored context and every generation
//! prompt is first rendered by the model's chat template as the user's turn, after an optional
//! system turn, with the opening of the assistant's turn — what lm-evaluation-harness's
//! `--apply_chat_template --system_instruction` does. The continuation of a scored request
//! follows the rendered context as the assistant's answer. Raw text (perplexity) is unchanged.

use std::sync::Arc;

use super::chat::{ChatTemplate, Message};
use super::generate::{GenParams, Generation};
use super::{Capability, Generator, LanguageModel, ModelError, NextTokenDistributions, TokenScorer, TokenScores};

pub struct ChatModel {
    inner: Arc<dyn LanguageModel>,
    template: ChatTemplate,
    system: Option<String>,
}

impl ChatModel {
    pub fn new(inner: Arc<dyn LanguageModel>, template: ChatTemplate, system: Option<String>) -> ChatModel {
        ChatModel { inner, template, system }
    }

    /// `text` as the user's turn of a conversation, ready for the assistant's answer.
    pub fn render(&self, text: &str) -> Result<String, ModelError> {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = &self.system {
            messages.push(Message::new("system", system.clone()));
        }
        messages.push(Message::new("user", text));
        Ok(self.template.render(&messages, true)?)
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
        self.inner.token_scorer().map(|_| self as &dyn TokenScorer)
    }

    fn generator(&self) -> Option<&dyn Generator> {
        self.inner.generator().map(|_| self as &dyn Generator)
    }

    fn distributions(&self) -> Option<&dyn NextTokenDistributions> {
        self.inner.distributions()
    }
}

impl TokenScorer for ChatModel {
    fn score_tokens(&self, text: &str) -> Result<TokenScores, ModelError> {
        self.scorer()?.score_tokens(text)
    }

    fn score_batch(&self, texts: &[&str]) -> Result<Vec<TokenScores>, ModelError> {
        self.scorer()?.score_batch(texts)
    }

    fn score_continuations(&self, requests: &[(&str, &str)]) -> Result<Vec<TokenScores>, ModelError> {
        let contexts: Vec<String> = requests.iter().map(|(c, _)| self.render(c)).collect::<Result<_, _>>()?;
        let rendered: Vec<(&str, &str)> =
            contexts.iter().map(String::as_str).zip(requests.iter().map(|(_, x)| *x)).collect();
        self.scorer()?.score_continuations(&rendered)
    }
}

impl Generator for ChatModel {
    fn generate(&self, prompts: &[&str], params: &GenParams) -> Result<Vec<Generation>, ModelError> {
        let rendered: Vec<String> = prompts.iter().map(|p| self.render(p)).collect::<Result<_, _>>()?;
        let refs: Vec<&str> = rendered.iter().map(String::as_str).collect();
        let generator = self.inner.generator().ok_or_else(|| self.inner_lacks(Capability::Generate))?;
        generator.generate(&refs, params)
    }
}

impl ChatModel {
    fn scorer(&self) -> Result<&dyn TokenScorer, ModelError> {
        self.inner.token_scorer().ok_or_else(|| self.inner_lacks(Capability::ScoreTokens))
    }

    fn inner_lacks(&self, capability: Capability) -> ModelError {
        ModelError::Unsupported { model: self.inner.describe(), capability }
    }
}
