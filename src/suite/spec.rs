//! The suite file as written (serde): versioned, closed enums for model kinds and task types,
//! unknown keys rejected.
//!
//! ```yaml
//! version: 1
//! name: quick
//! seed: 1234
//! models:
//!   - {id: kn3, kind: ngram, train: data/train.txt, order: 3}
//!   - {id: lm, kind: ngram, arpa: models/lm.arpa}
//! tasks:
//!   - id: wikitext
//!     type: perplexity
//!     dataset: {path: data/test.txt, format: text, unit: document}
//!     models: [kn3, lm]
//!     metrics: [word_perplexity, bits_per_byte]
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::data::{FieldMap, Format, Unit};

/// The only suite format version this build reads.
pub const SUITE_VERSION: u32 = 1;

fn default_seed() -> u64 {
    super::DEFAULT_SEED
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Seeds every random choice (bootstrap resampling); default [`super::DEFAULT_SEED`], as on
    /// the command line.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Bootstrap resamples for confidence intervals (default 1000).
    #[serde(default)]
    pub bootstrap: Option<usize>,
    pub models: Vec<ModelSpec>,
    pub tasks: Vec<TaskSpec>,
    /// How `lmgauge gate` judges changes against a baseline (tolerance bands per metric).
    #[serde(default)]
    pub gates: Option<crate::suite::gates::GatePolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelSpec {
    Ngram(NgramModelSpec),
    /// A system's outputs stored in a file, scored by reference tasks.
    Outputs(OutputsModelSpec),
    /// Baseline judge for preference tasks: the longer response wins.
    Length(BaselineJudgeSpec),
    /// Baseline judge for preference tasks: a seeded coin flip.
    Random(BaselineJudgeSpec),
    /// Preference judge: a reference metric (bleu, chrf, chrf++, rouge1/2/L/Lsum) of each response
    /// against the pair's `reference`.
    Metric(MetricJudgeSpec),
    /// A causal LM from a Hugging Face model folder (GPT-2), scored token by token.
    Causal(NeuralModelSpec),
    /// A masked LM from a Hugging Face model folder (BERT, DistilBERT), scored by
    /// pseudo-log-likelihood.
    Masked(NeuralModelSpec),
    /// A reward model (sequence classification with one output) from a Hugging Face folder
    /// (BERT, DistilBERT): judges preference pairs by the reward of each response.
    Reward(NeuralModelSpec),
    /// A BERT encoder (a Hugging Face folder) read through one layer's hidden states: a
    /// BERTScore judge of rated outputs.
    Encoder(NeuralModelSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralModelSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A Hugging Face model folder (config.json, weights, tokenizer).
    pub path: PathBuf,
    /// auto (default), cpu, cuda, cuda:N.
    #[serde(default)]
    pub device: Option<String>,
    /// f32 (default), f16, bf16 (half precision on CUDA only).
    #[serde(default)]
    pub dtype: Option<String>,
    /// Tokens per window (default: the model's context).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Causal: use the sliding-window policy with this stride. Masked: step between windows.
    #[serde(default)]
    pub stride: Option<usize>,
    /// Masked: original (default) or word-l2r.
    #[serde(default)]
    pub pll: Option<String>,
    /// Padded tokens per forward pass (default 1024).
    #[serde(default)]
    pub batch_tokens: Option<usize>,
    /// GGUF files: quantized (default: the file's own weights, as llama.cpp computes them) or
    /// f32 (dequantized through libtorch, as transformers computes them).
    #[serde(default)]
    pub compute: Option<String>,
    /// Causal: rolling (default, lm-evaluation-harness) or llama-perplexity (llama.cpp's chunks
    /// of max_length, default 512, each scoring its second half).
    #[serde(default)]
    pub windows: Option<String>,
    /// Encoder: the layer whose hidden states BERTScore matches (1 = the first transformer
    /// layer; default the last).
    #[serde(default)]
    pub layer: Option<usize>,
    /// Encoder: weigh tokens by inverse document frequency in the references (default false).
    #[serde(default)]
    pub idf: Option<bool>,
    /// Causal: render every scored context and generation prompt with the model's chat template
    /// (multiple-choice and generation tasks).
    #[serde(default)]
    pub chat: Option<bool>,
    /// Causal with chat: the system turn before every user turn.
    #[serde(default)]
    pub system: Option<String>,
    /// Causal with chat: a Jinja template file used instead of the model's own.
    #[serde(default)]
    pub chat_template: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricJudgeSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub metric: String,
    /// ROUGE: fmeasure (default), precision or recall.
    #[serde(default)]
    pub part: Option<String>,
    /// ROUGE with several references: mean (default) or max over them.
    #[serde(default)]
    pub references: Option<String>,
    /// rougeLsum: newline (default, rouge-score's) or period (sentences end at " . ", as in
    /// tokenized SummEval summaries).
    #[serde(default)]
    pub sentences: Option<String>,
    /// BLEU: sentence (default, sacrebleu's sentence_bleu) or wmt19-moses (the WMT19 metrics
    /// baseline: Moses-tokenized single-sentence corpus BLEU, as sacrebleu 1.x scored it).
    #[serde(default)]
    pub recipe: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineJudgeSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl ModelSpec {
    pub fn id(&self) -> &str {
        match self {
            ModelSpec::Ngram(m) => &m.id,
            ModelSpec::Outputs(m) => &m.id,
            ModelSpec::Length(m) | ModelSpec::Random(m) => &m.id,
            ModelSpec::Metric(m) => &m.id,
            ModelSpec::Causal(m) | ModelSpec::Masked(m) | ModelSpec::Reward(m) | ModelSpec::Encoder(m) => &m.id,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsModelSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    /// One output per line (text), or one record per line (JSONL, with `field`).
    pub path: PathBuf,
    #[serde(default)]
    pub format: Option<Format>,
    /// JSONL/CSV/Parquet: the field holding the output.
    #[serde(default)]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NgramModelSpec {
    pub id: String,
    /// Free text shown in reports beside the model id.
    #[serde(default)]
    pub description: Option<String>,
    /// Train from this text (one sentence per line)...
    #[serde(default)]
    pub train: Option<PathBuf>,
    /// ...or load this ARPA file.
    #[serde(default)]
    pub arpa: Option<PathBuf>,
    /// Order when training.
    #[serde(default)]
    pub order: Option<usize>,
    /// `true` for lmplz's default fallback (0.5 1 1.5), or up to three discounts.
    #[serde(default)]
    pub discount_fallback: Option<DiscountFallbackSpec>,
    /// Pruning thresholds per order, as `lmgauge ngram train --prune`.
    #[serde(default)]
    pub prune: Vec<u64>,
    /// Treat literal `<s>`, `</s>`, `<unk>` in training text as whitespace.
    #[serde(default)]
    pub skip_symbols: bool,
    /// Split punctuation at the ends of words into tokens of their own before scoring (for text
    /// written normally, scored by a model trained on tokenized text such as WikiText-2).
    #[serde(default)]
    pub split_punctuation: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DiscountFallbackSpec {
    Enabled(bool),
    Values(Vec<f32>),
}

/// A task as written: the keys every task has, and the keys its type adds (`options`), which
/// the task type reads and checks (`src/tasks`; the suite layer cannot import it).
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub common: TaskCommonSpec,
    /// Every other key of the task, as written.
    pub options: serde_yaml::Mapping,
}

/// The keys every task has, whatever its type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCommonSpec {
    pub id: String,
    /// The task type, one of `src/tasks/registry.rs`'s (perplexity, minimal-pairs, …).
    #[serde(rename = "type")]
    pub task_type: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The task's data: text, JSONL, CSV or Parquet.
    pub dataset: DatasetSpecRaw,
    pub models: Vec<String>,
    pub metrics: Vec<String>,
}

/// The keys of [`TaskCommonSpec`], in the order they are listed in messages.
pub const TASK_COMMON_KEYS: &[&str] = &["id", "type", "description", "dataset", "models", "metrics"];

impl TaskSpec {
    pub fn id(&self) -> &str {
        &self.common.id
    }

    /// Splits a task entry into the keys every task has and the keys of its type.
    pub fn split(mut entry: serde_yaml::Mapping) -> (serde_yaml::Mapping, serde_yaml::Mapping) {
        let mut common = serde_yaml::Mapping::new();
        for key in TASK_COMMON_KEYS {
            if let Some(v) = entry.remove(*key) {
                common.insert((*key).into(), v);
            }
        }
        (common, entry)
    }
}

impl<'de> Deserialize<'de> for TaskSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (common, options) = TaskSpec::split(serde_yaml::Mapping::deserialize(d)?);
        let common = serde_yaml::from_value(serde_yaml::Value::Mapping(common)).map_err(D::Error::custom)?;
        Ok(TaskSpec { common, options })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpecRaw {
    /// Relative to the suite file.
    pub path: PathBuf,
    /// Guessed from the extension when absent (`.jsonl`, `.csv`, `.parquet`, else text).
    #[serde(default)]
    pub format: Option<Format>,
    /// How plain text divides into items (text format only).
    #[serde(default)]
    pub unit: Option<Unit>,
    #[serde(default)]
    pub fields: Option<FieldMap>,
    /// Use only the first N items.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Where the data comes from and its licence, shown in reports.
    #[serde(default)]
    pub source: Option<String>,
}
