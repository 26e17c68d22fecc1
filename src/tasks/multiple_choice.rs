//! Multiple choice as lm-evaluation-harness 0.4 scores it (`output_type: multiple_choice`): each
//! item is a context, a list of choices and the index of the right one; every choice is a
//! `loglikelihood` request `(context, target_delimiter + choice)`, and the model's answer is the
//! choice of highest summed log-likelihood (`acc`) or of highest log-likelihood per character of
//! the choice (`acc_norm`, Python `len`). Ties go to the first choice, as `numpy.argmax`.
//!
//! All three families answer: a causal LM scores the continuation's tokens given the context,
//! tokenized as the harness does; an n-gram model scores the continuation's words after `<s>`
//! and the context's words (within its order; no `</s>`, as a causal LM scores no end token); a
//! masked LM sums the pseudo-log-likelihoods of the continuation's tokens, the context never
//! masked. Every two models are compared on the same items by McNemar's exact test per metric,
//! Holm-corrected over the pairs of models; `group_fields` adds accuracy per group (an MMLU
//! subject, say) with Wilson intervals.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use super::fewshot::{FewShot, FewShotKeys};
use super::jsonl::Record;
use super::minimal_pairs::{group_accuracy, mcnemar_table};
use super::{Check, ItemPrompt, JobContext, JobOutput, Task, TaskType, bootstrapped_row, no_such_item};
use crate::metrics::Metric;
use crate::metrics::stats::ItemStats;
use crate::models::Capability;
use crate::models::prompt::{Exchange, Prompt};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::{ChoiceScores, Scores};
use crate::store::tables::TaskTables;
use crate::suite::{ModelDef, TaskDef};

/// Requests scored per call: neural models batch within a chunk, and progress moves per chunk.
const CHUNK: usize = 512;

/// `type: multiple-choice`.
pub struct MultipleChoiceType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The field holding the context, the text every choice continues (default `context`; it
    /// may be empty, and then choices are scored from the model's start token).
    #[serde(default)]
    pub context_field: Option<String>,
    /// The field holding the list of choices (default `choices`).
    #[serde(default)]
    pub choices_field: Option<String>,
    /// The field holding the right choice: its index from 0, or its text (default `gold`).
    #[serde(default)]
    pub gold_field: Option<String>,
    /// Written between the context and each choice (default one space, as the harness).
    #[serde(default)]
    pub target_delimiter: Option<String>,
    /// Fields whose values group the items for per-group accuracy (`acc`); none by default.
    #[serde(default)]
    pub group_fields: Vec<String>,
    /// Use only the first N items of each file.
    #[serde(default)]
    pub per_file: Option<usize>,
    /// Few-shot examples before each item (src/tasks/fewshot.rs).
    #[serde(default)]
    pub num_fewshot: Option<usize>,
    #[serde(default)]
    pub fewshot_split: Option<PathBuf>,
    #[serde(default)]
    pub fewshot_seed: Option<u64>,
    #[serde(default)]
    pub fewshot_sampler: Option<String>,
    #[serde(default)]
    pub fewshot_delimiter: Option<String>,
    #[serde(default)]
    pub fewshot_as_multiturn: Option<bool>,
}

impl TaskType for MultipleChoiceType {
    const NAME: &'static str = "multiple-choice";
    const METRICS: &'static [Metric] = &[Metric::Acc, Metric::AccNorm];
    const NEEDS: &'static [Capability] = &[Capability::ScoreTokens, Capability::PseudoLogLikelihood];
    const READS_FOLDERS: bool = true;
    const CHAT: bool = true;
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, o: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        check.at_least_one("per_file", o.per_file);
        let delimiter = o.target_delimiter.unwrap_or_else(|| " ".into());
        let keys = FewShotKeys {
            num_fewshot: o.num_fewshot,
            fewshot_split: o.fewshot_split,
            fewshot_seed: o.fewshot_seed,
            fewshot_sampler: o.fewshot_sampler,
            fewshot_delimiter: o.fewshot_delimiter,
            fewshot_as_multiturn: o.fewshot_as_multiturn,
        };
        let fewshot = FewShot::resolve(keys, delimiter.clone(), check);
        let layout = Layout {
            context: o.context_field.unwrap_or_else(|| "context".into()),
            choices: o.choices_field.unwrap_or_else(|| "choices".into()),
            gold: o.gold_field.unwrap_or_else(|| "gold".into()),
            delimiter,
            groups: o.group_fields,
            per_file: o.per_file,
        };
        Box::new(MultipleChoice { def, layout, fewshot, items: OnceLock::new() })
    }
}

/// Where an item's parts are in a record.
#[derive(Debug, Clone)]
struct Layout {
    context: String,
    choices: String,
    gold: String,
    delimiter: String,
    groups: Vec<String>,
    per_file: Option<usize>,
}

/// One question, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// `file-stem:line`.
    pub id: String,
    pub context: String,
    pub choices: Vec<String>,
    pub gold: usize,
    /// One value per group field.
    pub groups: Vec<String>,
}

pub struct MultipleChoice<'a> {
    def: &'a TaskDef,
    layout: Layout,
    fewshot: FewShot,
    items: OnceLock<Result<Loaded, String>>,
}

/// The questions, each with the prompt its choices continue.
struct Loaded {
    questions: Vec<Question>,
    prompts: Vec<Prompt>,
    /// A chat model's prompts where its examples are drawn differently (see
    /// [`FewShot::chat_draws_twice`]).
    chat_prompts: Option<Vec<Prompt>>,
}

impl Loaded {
    fn prompts(&self, chat: bool) -> &[Prompt] {
        match (&self.chat_prompts, chat) {
            (Some(p), true) => p,
            _ => &self.prompts,
        }
    }
}

impl MultipleChoice<'_> {
    fn items(&self) -> Result<&[Question], &String> {
        self.loaded().as_ref().map(|l| l.questions.as_slice())
    }

    fn loaded(&self) -> &Result<Loaded, String> {
        self.items.get_or_init(|| {
            let questions = read_questions(&self.def.dataset.path, &self.layout, self.def.dataset.limit)?;
            let prompts = self.prompts(&questions, false)?;
            let chat_prompts =
                if self.fewshot.chat_draws_twice() { Some(self.prompts(&questions, true)?) } else { None };
            Ok(Loaded { questions, prompts, chat_prompts })
        })
    }

    /// Each question's prompt: its few-shot examples (drawn as lm-evaluation-harness draws them)
    /// and its context.
    fn prompts(&self, questions: &[Question], chat: bool) -> Result<Vec<Prompt>, String> {
        let fs = &self.fewshot;
        let path = fs.split.as_deref().unwrap_or(&self.def.dataset.path);
        // The pool is the whole file: `limit` and `per_file` choose the items, not the examples.
        let whole =
            if fs.k > 0 && (fs.split.is_some() || self.def.dataset.limit.is_some() || self.layout.per_file.is_some()) {
                let layout = Layout { per_file: None, ..self.layout.clone() };
                Some(read_questions(path, &layout, None).map_err(|e| format!("few-shot examples: {e}"))?)
            } else {
                None
            };
        let pool = whole.as_deref().unwrap_or(questions);
        let shots = fs.draw(questions, pool, fs.split.is_none(), &path.display().to_string(), chat)?;
        Ok(questions
            .iter()
            .zip(shots)
            .map(|(q, shots)| Prompt {
                exchanges: shots
                    .into_iter()
                    .map(|j| Exchange {
                        question: pool[j].context.clone(),
                        answer: pool[j].choices[pool[j].gold].clone(),
                    })
                    .collect(),
                question: q.context.clone(),
                delimiters: fs.delimiters.clone(),
            })
            .collect())
    }

    /// Whether each record got each of its items right by `metric`.
    fn right(records: &[&JobRecord], metric: Metric) -> Vec<Vec<bool>> {
        records.iter().map(|r| r.items.iter().map(|it| correct(&it.scores, metric)).collect()).collect()
    }
}

fn correct(scores: &Scores, metric: Metric) -> bool {
    match (scores.choices(), metric) {
        (Some(c), Metric::AccNorm) => c.acc_norm(),
        (Some(c), _) => c.acc(),
        (None, _) => false,
    }
}

impl Task for MultipleChoice<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let (loaded, lm) = match (self.loaded(), ctx.model()) {
            (Ok(l), Ok(lm)) => (l, lm),
            (Err(e), _) => return JobOutput::failed(e.clone()),
            (_, Err(e)) => return JobOutput::failed(e),
        };
        let questions = &loaded.questions;
        ctx.progress_start(questions.len() as u64);
        let mut items = Vec::with_capacity(questions.len());
        let mut start = 0;
        while start < questions.len() {
            // Whole questions per call, about CHUNK requests.
            let mut end = start;
            let mut requests = 0;
            while end < questions.len() && (end == start || requests + questions[end].choices.len() <= CHUNK) {
                requests += questions[end].choices.len();
                end += 1;
            }
            let chunk = &questions[start..end];
            let contexts: Vec<String> = match loaded.prompts(lm.is_chat())[start..end]
                .iter()
                .zip(chunk)
                .map(|(p, q)| lm.render_prompt(p).map_err(|e| format!("model {}, item {}: {e}", model.id, q.id)))
                .collect()
            {
                Ok(c) => c,
                Err(e) => return JobOutput::failed(e),
            };
            let continuations: Vec<Vec<String>> = chunk
                .iter()
                .map(|q| q.choices.iter().map(|c| format!("{}{c}", self.layout.delimiter)).collect())
                .collect();
            let requests: Vec<(&str, &str)> = contexts
                .iter()
                .zip(&continuations)
                .flat_map(|(context, cs)| cs.iter().map(|c| (context.as_str(), c.as_str())))
                .collect();
            let scores = match lm.continuation_likelihoods(&requests) {
                Ok(s) => s,
                Err(e) => {
                    let span = format!("items {}–{}", chunk[0].id, chunk[chunk.len() - 1].id);
                    return JobOutput::failed(format!("{span}: {e}"));
                }
            };
            let mut scores = scores.into_iter();
            for q in chunk {
                let mut logliks = Vec::with_capacity(q.choices.len());
                for k in 0..q.choices.len() {
                    let s = scores.next().unwrap_or_default();
                    if let Err(e) = s.check_finite(&model.id, &format!("choice {k} of item {}", q.id)) {
                        return JobOutput::failed(e);
                    }
                    logliks.push(-s.nll());
                }
                let chars = q.choices.iter().map(|c| c.chars().count() as f64).collect();
                let scores = Scores::Choices(ChoiceScores { logliks, chars, gold: q.gold });
                items.push(ItemScore { id: q.id.clone(), scores, output: None });
            }
            ctx.progress_advance(chunk.len() as u64);
            start = end;
        }
        JobOutput { items: Ok(items), description: lm.describe(), notes: Vec::new() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        self.def
            .metrics
            .iter()
            .map(|&m| bootstrapped_row(self.def, &record.model, m, &self.item_stats(m, record, ""), seed, resamples))
            .collect()
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        let rows = record.items.iter().map(|it| vec![correct(&it.scores, metric) as u8 as f64, 1.0]).collect();
        ItemStats { rows, score: Box::new(|s: &[f64]| s[0] / s[1]) }
    }

    fn tables(&self, records: &[&JobRecord], _seed: u64) -> TaskTables {
        let mut pairwise = Vec::new();
        for &metric in &self.def.metrics {
            pairwise.extend(mcnemar_table(self.def, metric, records, &Self::right(records, metric)));
        }
        let subsets = match self.items() {
            Ok(items) if !self.layout.groups.is_empty() => {
                let groups = items.iter().map(|q| (q.id.as_str(), q.groups.as_slice())).collect();
                let right = Self::right(records, Metric::Acc);
                group_accuracy(self.def, &self.layout.groups, records, &right, &groups)
            }
            _ => Vec::new(),
        };
        TaskTables { subsets, pairwise, ..TaskTables::default() }
    }

    fn prompt(&self, item: &str, chat: bool) -> Option<Result<ItemPrompt, String>> {
        let loaded = match self.loaded() {
            Ok(l) => l,
            Err(e) => return Some(Err(e.clone())),
        };
        let Some(k) = loaded.questions.iter().position(|q| q.id == item) else {
            return Some(Err(no_such_item(&self.def.id, item, loaded.questions.iter().map(|q| q.id.as_str()))));
        };
        let continuations =
            loaded.questions[k].choices.iter().map(|c| format!("{}{c}", self.layout.delimiter)).collect();
        Some(Ok(ItemPrompt { prompt: loaded.prompts(chat)[k].clone(), continuations }))
    }
}

/// Reads every question; a missing or empty field, fewer than two choices, an empty choice, a
/// gold answer out of range or a malformed line is an error naming the file, the line and the
/// field.
fn read_questions(path: &Path, layout: &Layout, limit: Option<usize>) -> Result<Vec<Question>, String> {
    super::jsonl::read(path, layout.per_file, limit, |r| question(r, layout))
}

fn question(r: Record, layout: &Layout) -> Result<Question, String> {
    let at = &r.at;
    let context = r.text(&layout.context, true)?;
    if !context.is_empty() && context.trim().is_empty() {
        return Err(format!("{at}: field {:?} is only whitespace (leave it empty or give text)", layout.context));
    }
    let name = &layout.choices;
    let choices: Vec<String> = match r.value.get(name) {
        None => return Err(format!("{at}: field {name:?} is missing")),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(k, c)| match c {
                serde_json::Value::String(s) if s.is_empty() => {
                    Err(format!("{at}: field {name:?}: choice {k} is empty"))
                }
                // A choice of only spaces is scored as (nearly) no text: an n-gram gives it
                // probability 1 and it wins every item.
                serde_json::Value::String(s) if s.trim().is_empty() => {
                    Err(format!("{at}: field {name:?}: choice {k} is only whitespace"))
                }
                serde_json::Value::String(s) => Ok(s.clone()),
                v => Err(format!(
                    "{at}: field {name:?}: choice {k} must be text (a JSON string), found {}",
                    super::jsonl::kind(v)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{at}: field {name:?} must be a list of strings")),
    };
    if choices.len() < 2 {
        return Err(format!("{at}: field {name:?} has {} choice(s); a question needs at least 2", choices.len()));
    }
    let name = &layout.gold;
    let gold = match r.value.get(name) {
        None => return Err(format!("{at}: field {name:?} is missing")),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(i) if (i as usize) < choices.len() => i as usize,
            _ => {
                return Err(format!(
                    "{at}: field {name:?} is {n}; the index of the right choice must be 0 to {}",
                    choices.len() - 1
                ));
            }
        },
        Some(serde_json::Value::String(s)) => choices
            .iter()
            .position(|c| c == s)
            .ok_or_else(|| format!("{at}: field {name:?} is {s:?}, which is none of the choices"))?,
        Some(_) => return Err(format!("{at}: field {name:?} must be a choice's index or text")),
    };
    let groups = layout.groups.iter().map(|g| r.label(g)).collect::<Result<_, _>>()?;
    Ok(Question { id: r.id, context, choices, gold, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            context: "context".into(),
            choices: "choices".into(),
            gold: "gold".into(),
            delimiter: " ".into(),
            groups: vec!["subject".into()],
            per_file: None,
        }
    }

    #[test]
    fn questions_are_read_and_every_bad_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.jsonl");
        let read = |line: &str| {
            std::fs::write(&file, format!("{line}\n")).unwrap();
            read_questions(&file, &layout(), None)
        };
        let q = read(r#"{"context": "2+2 =", "choices": ["3", "4"], "gold": "4", "subject": "math"}"#).unwrap();
        assert_eq!((q[0].id.as_str(), q[0].gold, q[0].groups[0].as_str()), ("q:1", 1, "math"));
        let e = |line: &str| read(line).unwrap_err();
        let ok = r#""context": "c", "subject": "s""#;
        assert!(
            e(&format!(r#"{{{ok}, "choices": ["a", "b"], "gold": 2}}"#)).contains("q.jsonl:1: field \"gold\" is 2")
        );
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", "b"], "gold": -1}}"#)).contains("must be 0 to 1"));
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", "b"], "gold": "c"}}"#)).contains("none of the choices"));
        assert!(e(&format!(r#"{{{ok}, "choices": ["a"], "gold": 0}}"#)).contains("at least 2"));
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", ""], "gold": 0}}"#)).contains("choice 1 is empty"));
        assert!(e(&format!(r#"{{{ok}, "choices": "a", "gold": 0}}"#)).contains("must be a list of strings"));
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", "b"]}}"#)).contains("field \"gold\" is missing"));
        assert!(
            e(r#"{"context": "  ", "choices": ["a", "b"], "gold": 0, "subject": "s"}"#).contains("only whitespace")
        );
        assert!(e(r#"{"choices": ["a", "b"], "gold": 0, "subject": "s"}"#).contains("\"context\" is missing"));
        for context in ["null", "5", "true", "[\"a\"]"] {
            let err = e(&format!(r#"{{"context": {context}, "choices": ["a", "b"], "gold": 0, "subject": "s"}}"#));
            assert!(err.contains("q.jsonl:1: field \"context\" must be text"), "{context}: {err}");
        }
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", " \t"], "gold": 0}}"#)).contains("choice 1 is only whitespace"));
        assert!(e(&format!(r#"{{{ok}, "choices": ["a", 7], "gold": 0}}"#)).contains("choice 1 must be text"));
        // Grouping fields may be numbers or booleans, read as their JSON text.
        let q = read(r#"{"context": "", "choices": ["a", "b"], "gold": 0, "subject": 7}"#).unwrap();
        assert_eq!((q[0].context.as_str(), q[0].groups[0].as_str()), ("", "7"));
        assert!(e("[1, 2]").contains("q.jsonl:1: not a JSON object"));
    }
}
