//! The task types, one line each in [`TASK_TYPES`]: a suite's task names its type by `type`, and
//! the type reads the task's own keys (serde, unknown keys refused), checks its data and what
//! its models must be able to do, and builds the [`Task`] the engine runs. The suite is checked
//! against these types in one pass with the rest of the suite ([`load_suite`]).

use std::path::Path;

use serde::de::DeserializeOwned;

use super::Task;
use super::{
    generation, human_agreement, kl_divergence, minimal_pairs, multiple_choice, perplexity, preference, reference,
};
use crate::metrics::Metric;
use crate::models::Capability;
use crate::suite::{ModelDef, ModelKind, Suite, SuiteError, TaskDef, TaskTypes, read_options};

/// What a task type declares.
pub trait TaskType {
    /// The `type` a suite's task names it by.
    const NAME: &'static str;
    /// The metrics it can produce.
    const METRICS: &'static [Metric];
    /// What a model must be able to do to serve it: any one of these (the first is the one an
    /// error names).
    const NEEDS: &'static [Capability];
    /// Whether `dataset.path` may name a folder (the type reads every file in it).
    const READS_FOLDERS: bool = false;
    /// Whether a chat model's template applies to the type's requests (its contexts or prompts
    /// are a user's turn); a chat model in any other type is refused, never run as raw text.
    const CHAT: bool = false;
    /// The task's own keys, as written (`#[serde(deny_unknown_fields)]`).
    type Options: DeserializeOwned;

    /// The task object; each problem with the options or the data goes to `check`.
    fn build<'a>(def: &'a TaskDef, options: Self::Options, check: &mut Check) -> Box<dyn Task + 'a>;

    /// Problems of one listed model with this task beyond its capabilities (`at`: its key).
    fn check_model(_def: &TaskDef, _model: &ModelDef, _at: &str, _check: &mut Check) {}

    /// Problems of the task's options with the suite's models (a model the options name by id).
    fn check_suite(_def: &TaskDef, _options: &Self::Options, _models: &[ModelDef], _check: &mut Check) {}
}

/// Where a task type reports problems while it builds a task, by the path of the key inside
/// the task (`layout`, `dataset.unit`; empty for the task itself).
pub struct Check<'r> {
    /// The suite's seed (the default of seeds a task's options may set).
    pub seed: u64,
    /// The suite file's folder: paths in a task's options are relative to it.
    pub base: &'r Path,
    report: &'r mut dyn FnMut(&str, String),
}

impl Check<'_> {
    pub fn problem(&mut self, key: &str, message: String) {
        (self.report)(key, message)
    }

    /// A count option that, when given, must be at least 1 (`per_file`).
    pub fn at_least_one(&mut self, key: &str, value: Option<usize>) {
        if value == Some(0) {
            self.problem(key, format!("`{key}` must be at least 1"));
        }
    }
}

/// One registered task type.
pub struct Registered {
    pub name: &'static str,
    pub metrics: &'static [Metric],
    check: fn(&TaskDef, &[ModelDef], &mut Check),
    build: for<'a> fn(&'a TaskDef, &mut Check) -> Option<Box<dyn Task + 'a>>,
}

const fn register<T: TaskType>() -> Registered {
    Registered { name: T::NAME, metrics: T::METRICS, check: check_models::<T>, build: build::<T> }
}

/// Every task type: the one registration point.
pub const TASK_TYPES: &[Registered] = &[
    register::<perplexity::PerplexityType>(),
    register::<reference::ReferenceType>(),
    register::<preference::PreferenceType>(),
    register::<generation::GenerationType>(),
    register::<minimal_pairs::MinimalPairsType>(),
    register::<multiple_choice::MultipleChoiceType>(),
    register::<kl_divergence::KlDivergenceType>(),
    register::<human_agreement::HumanAgreementType>(),
];

fn find(name: &str) -> Option<&'static Registered> {
    TASK_TYPES.iter().find(|t| t.name == name)
}

fn build<'a, T: TaskType>(def: &'a TaskDef, check: &mut Check) -> Option<Box<dyn Task + 'a>> {
    if !T::READS_FOLDERS && def.dataset.path.is_dir() {
        check.problem(
            "dataset.path",
            format!(
                "dataset {} is a directory, not a file: a {} task reads one file",
                def.dataset.path.display(),
                T::NAME
            ),
        );
    }
    match read_options::<T::Options>(&def.options) {
        Ok(options) => Some(T::build(def, options, check)),
        Err(problems) => {
            for (key, message) in problems {
                // serde's type errors do not name the key; an unknown key's message does.
                let named = key.is_empty() || message.starts_with("unknown field");
                check.problem(&key, if named { message } else { format!("{key}: {message}") });
            }
            None
        }
    }
}

/// Reports each listed model that can do none of what the type needs, and the options' problems
/// with the suite's models.
fn check_models<T: TaskType>(def: &TaskDef, models: &[ModelDef], check: &mut Check) {
    // Unreadable options are reported when the task is built.
    if let Ok(options) = read_options::<T::Options>(&def.options) {
        T::check_suite(def, &options, models, check);
    }
    for (j, id) in def.models.iter().enumerate() {
        let Some(m) = models.iter().find(|m| &m.id == id) else { continue };
        T::check_model(def, m, &format!("models[{j}]"), check);
        if let ModelKind::Neural(n) = &m.kind
            && n.options.chat.is_some()
            && !T::CHAT
        {
            check.problem(
                &format!("models[{j}]"),
                format!(
                    "model {:?} is a chat model (chat: true), whose template applies to multiple-choice, generation and preference tasks; task {:?} ({}) scores raw text: list a model entry without chat for it",
                    m.id,
                    def.id,
                    T::NAME
                ),
            );
        }
        let caps = m.kind.capabilities();
        if !T::NEEDS.iter().any(|c| caps.contains(c)) {
            check.problem(
                &format!("models[{j}]"),
                format!(
                    "task {:?} ({}) needs {}, which model {:?} (kind {}) cannot do",
                    def.id,
                    T::NAME,
                    T::NEEDS[0],
                    m.id,
                    m.kind.name()
                ),
            );
        }
    }
}

struct Registry;

impl TaskTypes for Registry {
    fn metrics(&self, task_type: &str) -> Option<&'static [Metric]> {
        find(task_type).map(|t| t.metrics)
    }

    fn names(&self) -> Vec<&'static str> {
        TASK_TYPES.iter().map(|t| t.name).collect()
    }

    fn check(
        &self,
        task: &TaskDef,
        models: &[ModelDef],
        (seed, base): (u64, &Path),
        report: &mut dyn FnMut(&str, String),
    ) {
        let Some(t) = find(&task.task_type) else { return };
        let mut check = Check { seed, base, report };
        (t.check)(task, models, &mut check);
        (t.build)(task, &mut check);
    }

    fn default_judges(&self, task_type: &str) -> &'static [Metric] {
        if task_type == <human_agreement::HumanAgreementType as TaskType>::NAME { Metric::REFERENCE } else { &[] }
    }
}

/// Reads, parses and validates a suite file, each task against its type.
pub fn load_suite(path: &Path) -> Result<Suite, SuiteError> {
    crate::suite::load_suite(path, &Registry)
}

/// Parses and validates suite bytes as if read from `path`, each task against its type.
pub fn parse_suite(path: &Path, bytes: &[u8]) -> Result<Suite, SuiteError> {
    crate::suite::parse_suite(path, bytes, &Registry)
}

/// The task objects of a validated suite, in its order.
pub fn for_suite(suite: &Suite) -> Result<Vec<Box<dyn Task + '_>>, crate::error::Error> {
    let base = suite.file.parent().unwrap_or(Path::new("."));
    suite.tasks.iter().map(|t| for_def(t, suite.seed, base).map_err(crate::error::Error::Usage)).collect()
}

/// The task object of a validated task. `seed` is the suite's, `base` the suite file's folder.
pub fn for_def<'a>(def: &'a TaskDef, seed: u64, base: &Path) -> Result<Box<dyn Task + 'a>, String> {
    let t = find(&def.task_type).ok_or_else(|| format!("task {:?}: unknown task type {:?}", def.id, def.task_type))?;
    let mut problems = Vec::new();
    let mut report = |key: &str, message: String| problems.push(format!("{key}: {message}"));
    let built = (t.build)(def, &mut Check { seed, base, report: &mut report });
    match built {
        Some(task) if problems.is_empty() => Ok(task),
        _ => Err(format!("task {:?} is invalid: {}", def.id, problems.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_registered_once_with_metrics_and_needs() {
        let mut names: Vec<&str> = TASK_TYPES.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TASK_TYPES.len());
        assert!(TASK_TYPES.iter().all(|t| !t.metrics.is_empty()));
    }
}
