//! What a task asks a model, before the model decides how to write it: earlier exchanges (few-shot
//! examples, or the turns of a dialogue) and the question the scored or generated text answers.
//! A plain model reads it as lm-evaluation-harness writes a few-shot context without a chat
//! template (`question + target_delimiter + answer + fewshot_delimiter` per example, then the
//! question); a chat model renders it as messages through its template, the examples as one user
//! turn or, with `multiturn`, as user and assistant turns (`fewshot_as_multiturn`), a system turn
//! first when one is set — the harness's `fewshot_context` and `append_target_question`.

use serde::Serialize;

use super::chat::{ChatError, ChatTemplate, Message};

/// One earlier exchange: a few-shot example's question and answer, or a dialogue's user turn and
/// the assistant's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    pub question: String,
    pub answer: String,
}

/// How exchanges are joined when they are written as one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delimiters {
    /// Between an example's question and its answer (the harness's `target_delimiter`).
    pub target: String,
    /// After each example (the harness's `fewshot_delimiter`).
    pub fewshot: String,
    /// Chat models: each exchange as its own user and assistant turns rather than one user turn.
    pub multiturn: bool,
}

impl Default for Delimiters {
    fn default() -> Delimiters {
        Delimiters { target: " ".into(), fewshot: "\n\n".into(), multiturn: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    pub exchanges: Vec<Exchange>,
    pub question: String,
    pub delimiters: Delimiters,
}

impl Prompt {
    /// A question alone.
    pub fn plain(question: impl Into<String>) -> Prompt {
        Prompt { exchanges: Vec::new(), question: question.into(), delimiters: Delimiters::default() }
    }

    /// The exchanges as one text, each followed by the few-shot delimiter.
    fn examples_text(&self) -> String {
        let d = &self.delimiters;
        self.exchanges.iter().map(|e| format!("{}{}{}{}", e.question, d.target, e.answer, d.fewshot)).collect()
    }

    /// The prompt as a model without a chat template reads it.
    pub fn flat(&self) -> String {
        self.examples_text() + &self.question
    }

    /// The conversation a chat model is given: an optional system turn, the exchanges, and the
    /// question as the last user turn.
    pub fn messages(&self, system: Option<&str>) -> Vec<Message> {
        let mut messages = Vec::with_capacity(2 * self.exchanges.len() + 2);
        if let Some(system) = system.filter(|s| !s.is_empty()) {
            messages.push(Message::new("system", system));
        }
        if self.delimiters.multiturn {
            for e in &self.exchanges {
                messages.push(Message::new("user", e.question.clone()));
                messages.push(Message::new("assistant", e.answer.clone()));
            }
            messages.push(Message::new("user", self.question.clone()));
        } else {
            messages.push(Message::new("user", self.flat()));
        }
        messages
    }

    /// The rendered conversation, opening the assistant's turn that the scored or generated
    /// text fills.
    pub fn render(&self, template: &ChatTemplate, system: Option<&str>) -> Result<String, ChatError> {
        template.render(&self.messages(system), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_shots(multiturn: bool) -> Prompt {
        let ex = |q: &str, a: &str| Exchange { question: q.into(), answer: a.into() };
        Prompt {
            exchanges: vec![ex("1+1 =", "2"), ex("2+2 =", "4")],
            question: "3+3 =".into(),
            delimiters: Delimiters { multiturn, ..Delimiters::default() },
        }
    }

    #[test]
    fn flat_and_chat_layouts_follow_the_harness() {
        assert_eq!(two_shots(false).flat(), "1+1 = 2\n\n2+2 = 4\n\n3+3 =");
        let roles = |m: &[Message]| m.iter().map(|m| m.role.as_str()).collect::<Vec<_>>().join(",");
        let one_turn = two_shots(false).messages(Some("Be brief."));
        assert_eq!(roles(&one_turn), "system,user");
        assert_eq!(one_turn[1].content, "1+1 = 2\n\n2+2 = 4\n\n3+3 =");
        let turns = two_shots(true).messages(None);
        assert_eq!(roles(&turns), "user,assistant,user,assistant,user");
        assert_eq!((turns[1].content.as_str(), turns[4].content.as_str()), ("2", "3+3 ="));
        assert_eq!(roles(&Prompt::plain("q").messages(Some(""))), "user");
    }
}
