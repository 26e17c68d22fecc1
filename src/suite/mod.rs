//! Suites: a YAML file naming models and tasks, parsed (`spec`), located (`locate`) and checked
//! (`validate`) into a resolved [`Suite`] before any work starts.

pub mod gates;
pub mod locate;
pub mod spec;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::data::DatasetSpec;
use crate::metrics::{Metric, TaskType};
use crate::models::Capabilities;
use crate::models::ngram::adapter::NgramSource;

pub use validate::{load_suite, parse_suite};

/// A suite that passed validation: paths resolved, names checked, capabilities matched.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub bootstrap_resamples: usize,
    /// The suite file.
    pub file: PathBuf,
    /// SHA-256 of the suite file's bytes.
    pub hash: String,
    pub models: Vec<ModelDef>,
    pub tasks: Vec<TaskDef>,
    pub gates: Option<crate::suite::gates::GatePolicy>,
}

#[derive(Debug, Clone)]
pub struct ModelDef {
    pub id: String,
    pub description: Option<String>,
    pub kind: ModelKind,
}

/// The resolved model kinds.
#[derive(Debug, Clone)]
pub enum ModelKind {
    Ngram(NgramSource),
    Outputs(OutputsSource),
    /// The longer response wins (a preference-task baseline).
    Length,
    /// A seeded coin flip (a preference-task baseline).
    Random,
    /// A reference metric of each response against the pair's reference.
    MetricJudge(Metric),
    /// A causal or masked LM from a Hugging Face model folder.
    Neural(NeuralSource),
}

/// A neural model: its folder and how it reads text.
#[derive(Debug, Clone)]
pub struct NeuralSource {
    pub family: crate::models::neural::Family,
    pub path: PathBuf,
    pub options: crate::models::neural::NeuralOptions,
}

/// A file of stored outputs, one per item.
#[derive(Debug, Clone)]
pub struct OutputsSource {
    pub path: PathBuf,
    pub format: crate::data::Format,
    pub field: String,
}

impl ModelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ModelKind::Ngram(_) => "ngram",
            ModelKind::Outputs(_) => "outputs",
            ModelKind::Length => "length",
            ModelKind::Random => "random",
            ModelKind::MetricJudge(_) => "metric",
            ModelKind::Neural(n) => n.family.name(),
        }
    }

    /// What the kind can do, known before anything loads.
    pub fn capabilities(&self) -> Capabilities {
        match self {
            ModelKind::Ngram(_) => crate::models::ngram::NgramModel::CAPABILITIES,
            ModelKind::Outputs(_) => Capabilities { stored_outputs: true, ..Capabilities::default() },
            ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => {
                Capabilities { reward: true, ..Capabilities::default() }
            }
            ModelKind::Neural(n) => match n.family {
                crate::models::neural::Family::Causal => {
                    Capabilities { score_tokens: true, generate: true, ..Capabilities::default() }
                }
                crate::models::neural::Family::Masked => {
                    Capabilities { pseudo_log_likelihood: true, ..Capabilities::default() }
                }
                crate::models::neural::Family::Reward => Capabilities { reward: true, ..Capabilities::default() },
            },
        }
    }
}

/// How a reference task scores and compares systems.
#[derive(Debug, Clone)]
pub struct ReferenceOptions {
    pub bleu: crate::metrics::bleu::BleuConfig,
    pub lowercase: bool,
    pub stem: bool,
    pub significance: Significance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Significance {
    PairedBootstrap,
    PairedRandomization,
    None,
}

impl Significance {
    pub fn name(self) -> &'static str {
        match self {
            Significance::PairedBootstrap => "paired-bs",
            Significance::PairedRandomization => "paired-ar",
            Significance::None => "none",
        }
    }
}

/// A task that passed validation: what every task has, and what its type adds ([`TaskKind`]).
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub id: String,
    pub description: Option<String>,
    pub dataset: DatasetSpec,
    /// Provenance and licence of the data, for the report.
    pub source: Option<String>,
    pub models: Vec<String>,
    pub metrics: Vec<Metric>,
    pub kind: TaskKind,
}

/// One variant per task type, each with its own resolved options.
#[derive(Debug, Clone)]
pub enum TaskKind {
    Perplexity,
    Reference(ReferenceOptions),
    Preference(crate::data::pairs::PairLayout),
    /// Generated outputs are scored as a reference task scores stored ones.
    Generation(GenerationOptions, ReferenceOptions),
}

impl TaskDef {
    pub fn task_type(&self) -> TaskType {
        match self.kind {
            TaskKind::Perplexity => TaskType::Perplexity,
            TaskKind::Reference(_) => TaskType::Reference,
            TaskKind::Preference(_) => TaskType::Preference,
            TaskKind::Generation(..) => TaskType::Generation,
        }
    }

    /// How outputs are scored against references (reference and generation tasks).
    pub fn reference_options(&self) -> Option<&ReferenceOptions> {
        match &self.kind {
            TaskKind::Reference(r) | TaskKind::Generation(_, r) => Some(r),
            _ => None,
        }
    }
}

/// Where a generation task's prompts come from and how models continue them.
#[derive(Debug, Clone)]
pub struct GenerationOptions {
    pub prompt: PromptSource,
    pub reference_field: String,
    pub params: crate::models::generate::GenParams,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptSource {
    Field(String),
    /// Literal text with `{field}` placeholders.
    Template(String),
}

impl PromptSource {
    /// The record fields a prompt needs.
    pub fn fields(&self) -> Vec<String> {
        match self {
            PromptSource::Field(f) => vec![f.clone()],
            PromptSource::Template(t) => template_fields(t),
        }
    }
}

/// The `{name}` placeholders of a template, in order, each once (`{{` and `}}` are literal braces).
pub fn template_fields(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        if rest[i..].starts_with("{{") {
            rest = &rest[i + 2..];
            continue;
        }
        let Some(j) = rest[i..].find('}') else { break };
        let name = &rest[i + 1..i + j];
        if !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
        rest = &rest[i + j + 1..];
    }
    out
}

/// Fills a template's placeholders from `value(field)`.
pub fn fill_template(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(j)) = (tail.starts_with('{'), tail.find('}')) {
            out.push_str(&value(&tail[1..j]));
            rest = &tail[j + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

impl Suite {
    pub fn model(&self, id: &str) -> Option<&ModelDef> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn task(&self, id: &str) -> Option<&TaskDef> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

/// One problem found in a suite file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

/// Every problem found in a suite, reported together.
#[derive(Debug, Clone, thiserror::Error)]
pub struct SuiteError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(f, "suite is invalid ({n} problem{})", if n == 1 { "" } else { "s" })?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl SuiteError {
    pub fn single(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        SuiteError { diagnostics: vec![Diagnostic { file: file.to_owned(), line, column, message: message.into() }] }
    }
}
