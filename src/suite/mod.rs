//! Suites: a YAML file naming models and tasks, parsed (`spec`), located (`locate`) and checked
//! (`validate`) into a resolved [`Suite`] before any work starts.

pub mod gates;
pub mod locate;
pub mod spec;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::data::DatasetSpec;
use crate::metrics::Metric;
use crate::models::Capability;
use crate::models::ngram::adapter::NgramDef;

pub use validate::{load_suite, parse_suite, read_options};

/// The seed of a suite without `seed:` and of every command run without `--seed` (sacrebleu's
/// `SACREBLEU_SEED`).
pub const DEFAULT_SEED: u64 = 12345;

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
    Ngram(NgramDef),
    Outputs(OutputsSource),
    /// The longer response wins (a preference-task baseline).
    Length,
    /// A seeded coin flip (a preference-task baseline).
    Random,
    /// A reference metric of each response against the pair's reference.
    MetricJudge(JudgeRecipe),
    /// A causal or masked LM from a Hugging Face model folder.
    Neural(NeuralSource),
}

/// How a metric judge scores an output against its references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgeRecipe {
    pub metric: Metric,
    /// ROUGE's F-measure, precision or recall.
    pub part: ScorePart,
    /// ROUGE with several references: their mean or their best (BLEU and chrF take every
    /// reference at once, as sacrebleu does).
    pub references: MultiReference,
    /// Where rougeLsum's sentences end.
    pub sentences: SentenceSplit,
    /// BLEU: sacrebleu's sentence BLEU, or the WMT19 metrics baseline.
    pub bleu: BleuRecipe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BleuRecipe {
    /// sacrebleu's `sentence_bleu`: 13a, exp smoothing, effective order.
    Sentence,
    /// The WMT19 metrics baseline (COMET, BARTScore): text tokenized by sacremoses' English Moses
    /// tokenizer, then `corpus_bleu` of the one sentence (13a, exp smoothing, no effective
    /// order) as sacrebleu 1.x scored it.
    Wmt19Moses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScorePart {
    F,
    Precision,
    Recall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiReference {
    Mean,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentenceSplit {
    /// rouge-score's rougeLsum: one sentence per line.
    Newline,
    /// Tokenized text whose sentences end with " . " (SummEval's summaries): a newline is put
    /// after each, as the published SummEval recipe does.
    Period,
}

impl JudgeRecipe {
    /// The metric's default recipe: F-measure, the mean over references, newline sentences.
    pub fn of(metric: Metric) -> JudgeRecipe {
        JudgeRecipe {
            metric,
            part: ScorePart::F,
            references: MultiReference::Mean,
            sentences: SentenceSplit::Newline,
            bleu: BleuRecipe::Sentence,
        }
    }
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

    /// What the kind can do, known before anything loads (a loaded model hands out the same
    /// verbs: `LanguageModel::capabilities`, checked by tests).
    pub fn capabilities(&self) -> &'static [Capability] {
        match self {
            ModelKind::Ngram(_) => crate::models::ngram::NgramModel::CAPABILITIES,
            ModelKind::Outputs(_) => &[Capability::StoredOutputs],
            ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => &[Capability::Reward],
            ModelKind::Neural(n) => n.family.capabilities(),
        }
    }
}

/// A task that passed validation: what every task has, its type's name, and the keys its type
/// adds, which the type (`src/tasks`) reads and checked during validation.
#[derive(Debug, Clone)]
pub struct TaskDef {
    pub id: String,
    pub description: Option<String>,
    /// The `type` key: which task type runs the task.
    pub task_type: String,
    pub dataset: DatasetSpec,
    /// Provenance and licence of the data, for the report.
    pub source: Option<String>,
    pub models: Vec<String>,
    pub metrics: Vec<Metric>,
    /// The keys the task's type adds (its options), as written.
    pub options: serde_yaml::Mapping,
}

/// The task types a suite may name, as the suite sees them. `src/tasks` implements it (the
/// suite cannot import the layer above) and hands it to [`load_suite`], so that a task's own
/// keys, metrics and models are checked with the rest of the suite, all problems together.
pub trait TaskTypes {
    /// The metrics a task of this type can produce; `None` when no type has this name.
    fn metrics(&self, task_type: &str) -> Option<&'static [Metric]>;

    /// Every type's name, for the error on an unknown one.
    fn names(&self) -> Vec<&'static str>;

    /// Checks what a type adds: its options, its data and what its models must be able to do.
    /// Each problem is reported by the path of its key inside the task (`layout`,
    /// `dataset.path`, `models[1]`; empty for the task itself). `suite` is the suite's seed and
    /// the folder its relative paths start from.
    /// `models` are all the suite's models; the task lists its own by id.
    fn check(&self, task: &TaskDef, models: &[ModelDef], suite: (u64, &Path), report: &mut dyn FnMut(&str, String));

    /// The metric judges a task of this type runs when it lists no models (none: it must list them).
    fn default_judges(&self, _task_type: &str) -> &'static [Metric] {
        &[]
    }
}

impl Suite {
    pub fn model(&self, id: &str) -> Option<&ModelDef> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Runs every model that goes through libtorch on `device` (`run-suite --device`); GGUF files
    /// computed quantized stay on the CPU, where that compute runs. Returns the ids moved.
    pub fn override_device(&mut self, device: crate::models::neural::DeviceChoice) -> Vec<String> {
        let mut moved = Vec::new();
        for m in &mut self.models {
            if let ModelKind::Neural(source) = &mut m.kind
                && !crate::models::neural::runs_quantized(&source.path, &source.options)
            {
                source.options.device = device;
                moved.push(m.id.clone());
            }
        }
        moved
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
