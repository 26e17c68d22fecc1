//! Generation tasks: each model continues every prompt, and what it wrote is scored against the
//! references exactly as a reference task scores stored outputs (same per-item statistics,
//! corpus scores, intervals and pairwise tests). The outputs stay in the job records, so a
//! resumed run never generates them again, and `generations.json` gathers prompt, references
//! and every model's output per item for the report.

use std::sync::OnceLock;

use serde::Deserialize;

use super::reference::{ReferenceOptions, item_stats, pairwise, reference_rows, score_hypotheses};
use super::{Check, ItemPrompt, JobContext, JobOutput, Task, TaskType, no_such_item};
use crate::data::{self, Format};
use crate::metrics::Metric;
use crate::metrics::stats::ItemStats;
use crate::models::generate::{GenParams, Strategy};
use crate::models::prompt::Prompt;
use crate::models::{Capability, LanguageModel};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::Scores;
use crate::store::tables::{GenerationRow, TaskTables};
use crate::suite::{ModelDef, TaskDef};

/// Items per task whose prompts, references and outputs the report shows.
const GENERATIONS_SHOWN: usize = 50;

/// `type: generation`: models continue prompts; what they write is scored against references
/// (BLEU, chrF, ROUGE) with a reference task's options.
pub struct GenerationType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The field holding the prompt (default `prompt`)...
    #[serde(default)]
    pub prompt_field: Option<String>,
    /// ...or a template with `{field}` placeholders filled from each record.
    #[serde(default)]
    pub prompt_template: Option<String>,
    /// The field holding the reference: a string or a list of strings (default `reference`).
    #[serde(default)]
    pub reference_field: Option<String>,
    /// Tokens to generate at most (words for n-gram models); default 32.
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    /// No end-of-text before this many tokens (default 0).
    #[serde(default)]
    pub min_new_tokens: Option<usize>,
    /// greedy (default) or sample.
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub top_p: Option<f64>,
    /// The output ends before the first of these strings.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Sampling seed (default: the suite's seed).
    #[serde(default)]
    pub seed: Option<u64>,
    /// How outputs are scored: as a reference task's keys of the same names.
    #[serde(default)]
    pub tokenize: Option<String>,
    #[serde(default)]
    pub smooth: Option<String>,
    #[serde(default)]
    pub lowercase: bool,
    #[serde(default)]
    pub stem: Option<bool>,
    #[serde(default)]
    pub significance: Option<String>,
}

/// Where a generation task's prompts come from and how models continue them.
#[derive(Debug, Clone)]
pub struct GenerationOptions {
    pub prompt: PromptSource,
    pub reference_field: String,
    pub params: GenParams,
}

impl TaskType for GenerationType {
    const NAME: &'static str = "generation";
    const METRICS: &'static [Metric] = Metric::REFERENCE;
    const NEEDS: &'static [Capability] = &[Capability::Generate];
    const CHAT: bool = true;
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, o: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        if def.dataset.format == Format::Text {
            check.problem(
                "dataset.path",
                "a generation task reads records with a prompt and a reference field: use JSONL, CSV or Parquet".into(),
            );
        }
        let scoring = super::reference::Options {
            tokenize: o.tokenize.clone(),
            smooth: o.smooth.clone(),
            lowercase: o.lowercase,
            stem: o.stem,
            significance: o.significance.clone(),
        };
        let scoring = scoring.resolve(check);
        let generation = resolve(def, o, check);
        Box::new(Generation { def, generation, scoring, data: OnceLock::new() })
    }
}

fn resolve(def: &TaskDef, o: Options, check: &mut Check) -> GenerationOptions {
    let id = &def.id;
    let prompt = match (o.prompt_field, o.prompt_template) {
        (Some(_), Some(template)) => {
            check
                .problem("prompt_template", format!("task {id:?}: give `prompt_field` or `prompt_template`, not both"));
            PromptSource::Template(template)
        }
        (None, Some(template)) => {
            if template_fields(&template).is_empty() {
                check.problem("prompt_template", format!("task {id:?}: the template has no {{field}} placeholder"));
            }
            PromptSource::Template(template)
        }
        (field, None) => PromptSource::Field(field.unwrap_or_else(|| "prompt".into())),
    };
    let defaults = GenParams::default();
    let strategy = match o.strategy.as_deref().map(str::parse::<Strategy>) {
        None => defaults.strategy,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            check.problem("strategy", e);
            defaults.strategy
        }
    };
    if strategy == Strategy::Greedy {
        for (key, set) in
            [("temperature", o.temperature.is_some()), ("top_k", o.top_k.is_some()), ("top_p", o.top_p.is_some())]
        {
            if set {
                check.problem(key, format!("task {id:?}: `{key}` applies only with `strategy: sample`"));
            }
        }
    }
    let params = GenParams {
        max_new_tokens: o.max_new_tokens.unwrap_or(defaults.max_new_tokens),
        min_new_tokens: o.min_new_tokens.unwrap_or(defaults.min_new_tokens),
        strategy,
        temperature: o.temperature.unwrap_or(defaults.temperature),
        top_k: o.top_k.unwrap_or(defaults.top_k),
        top_p: o.top_p.unwrap_or(defaults.top_p),
        stop: o.stop,
        seed: o.seed.unwrap_or(check.seed),
        kv_cache: true,
        first_index: 0,
    };
    if let Err(e) = params.check() {
        check.problem("", format!("task {id:?}: {e}"));
    }
    GenerationOptions { prompt, reference_field: o.reference_field.unwrap_or_else(|| "reference".into()), params }
}

pub struct Generation<'a> {
    def: &'a TaskDef,
    generation: GenerationOptions,
    scoring: ReferenceOptions,
    data: OnceLock<Result<GenerationData, String>>,
}

impl Generation<'_> {
    fn data(&self) -> &Result<GenerationData, String> {
        self.data.get_or_init(|| load(self.def, &self.generation))
    }
}

impl Task for Generation<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, _model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        match (self.data(), ctx.model()) {
            (Ok(d), Ok(m)) => {
                ctx.progress_start(d.prompts.len() as u64);
                let items = run(self.def, &self.generation, &self.scoring, m.as_ref(), d, &|n| ctx.progress_advance(n));
                JobOutput { items, description: m.describe(), notes: Vec::new() }
            }
            (Err(e), _) => JobOutput::failed(e.clone()),
            (_, Err(e)) => JobOutput::failed(e),
        }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        reference_rows(self.def, &self.scoring, record, seed, resamples)
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        item_stats(metric, &self.scoring, record)
    }

    fn tables(&self, records: &[&JobRecord], seed: u64) -> TaskTables {
        let generations = match (records.is_empty(), self.data()) {
            (false, Ok(data)) => rows(self.def, records, data, GENERATIONS_SHOWN),
            _ => Vec::new(),
        };
        TaskTables { pairwise: pairwise(self.def, &self.scoring, records, seed), generations, ..TaskTables::default() }
    }

    fn prompt(&self, item: &str, _chat: bool) -> Option<Result<ItemPrompt, String>> {
        let data = match self.data() {
            Ok(d) => d,
            Err(e) => return Some(Err(e.clone())),
        };
        let found = item.parse::<usize>().ok().filter(|&i| i >= 1 && i <= data.prompts.len());
        let Some(i) = found else {
            let ids: Vec<String> = (1..=data.prompts.len().min(3)).map(|i| i.to_string()).collect();
            return Some(Err(no_such_item(&self.def.id, item, ids.iter().map(String::as_str))));
        };
        Some(Ok(ItemPrompt { prompt: Prompt::plain(data.prompts[i - 1].as_str()), continuations: Vec::new() }))
    }
}

/// Prompts generated per call of the model: progress moves by this many.
const PROMPTS_PER_CALL: usize = 16;

/// Prompts and references of a generation task, item by item.
#[derive(Debug, Clone)]
pub struct GenerationData {
    pub prompts: Vec<String>,
    pub references: Vec<Vec<String>>,
}

/// Reads the task's records: the prompt (a field, or a template filled from fields) and the
/// reference(s) of each.
pub fn load(task: &TaskDef, opts: &GenerationOptions) -> Result<GenerationData, String> {
    let spec = &task.dataset;
    let field = |name: &str| data::load_aligned(&spec.path, spec.format, name).map_err(|e| e.to_string());
    let references = field(&opts.reference_field)?;
    let prompts: Vec<String> = match &opts.prompt {
        PromptSource::Field(f) => field(f)?.into_iter().map(|mut v| v.swap_remove(0)).collect(),
        PromptSource::Template(t) => {
            let columns: Vec<(String, Vec<Vec<String>>)> =
                opts.prompt.fields().into_iter().map(|f| field(&f).map(|c| (f, c))).collect::<Result<_, _>>()?;
            (0..references.len())
                .map(|i| {
                    fill_template(t, |name| {
                        columns.iter().find(|(f, _)| f == name).map(|(_, c)| c[i].join("\n")).unwrap_or_default()
                    })
                })
                .collect()
        }
    };
    let limit = spec.limit.unwrap_or(usize::MAX);
    let mut out = GenerationData { prompts, references };
    out.prompts.truncate(limit);
    out.references.truncate(limit);
    if out.prompts.is_empty() {
        return Err(format!("{}: no records", spec.path.display()));
    }
    Ok(out)
}

/// Generates with `model` and scores the outputs; each item keeps its output.
pub fn run(
    task: &TaskDef,
    opts: &GenerationOptions,
    scoring: &ReferenceOptions,
    model: &dyn LanguageModel,
    data: &GenerationData,
    advance: &dyn Fn(u64),
) -> Result<Vec<ItemScore>, String> {
    // A chat model renders each prompt as the user's turn; any other model reads it as written.
    let rendered: Vec<String> = data
        .prompts
        .iter()
        .enumerate()
        .map(|(i, p)| model.render_prompt(&Prompt::plain(p.as_str())).map_err(|e| format!("prompt {}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let prompts: Vec<&str> = rendered.iter().map(String::as_str).collect();
    // Calls of PROMPTS_PER_CALL prompts, so progress moves while a long job writes; each prompt's
    // random stream follows its position in the job (`first_index`), and every model decodes a
    // prompt the same whatever else is in its batch (tested), so the texts do not depend on it.
    let mut generations = Vec::with_capacity(prompts.len());
    for (k, chunk) in prompts.chunks(PROMPTS_PER_CALL).enumerate() {
        let params = GenParams { first_index: k * PROMPTS_PER_CALL, ..opts.params.clone() };
        generations.extend(model.generate(chunk, &params).map_err(|e| e.to_string())?);
        advance(chunk.len() as u64);
    }
    let outputs: Vec<String> = generations.iter().map(|g| g.text.trim().to_owned()).collect();
    let mut items = score_hypotheses(task, scoring, &outputs, &data.references)?;
    for ((item, output), g) in items.iter_mut().zip(outputs).zip(&generations) {
        if let Scores::Reference(s) = &mut item.scores {
            s.generated_tokens = Some(g.tokens as f64);
        }
        item.output = Some(output);
    }
    Ok(items)
}

/// The first `limit` items of a task with every model's output and sentence-level scores.
pub fn rows(task: &TaskDef, records: &[&JobRecord], data: &GenerationData, limit: usize) -> Vec<GenerationRow> {
    (0..data.prompts.len().min(limit))
        .map(|i| GenerationRow {
            task: task.id.clone(),
            item: (i + 1).to_string(),
            prompt: data.prompts[i].clone(),
            references: data.references[i].clone(),
            outputs: records
                .iter()
                .filter_map(|r| r.items.get(i).map(|it| (r, it)))
                .map(|(r, it)| {
                    let scores = task
                        .metrics
                        .iter()
                        .filter_map(|&m| sentence_score(m, it).map(|v| (m.name().to_owned(), v)))
                        .collect();
                    (r.model.clone(), it.output.clone().unwrap_or_default(), scores)
                })
                .collect(),
        })
        .collect()
}

/// The per-item score shown for a metric: sentence BLEU/chrF, ROUGE F-measure.
fn sentence_score(metric: Metric, item: &ItemScore) -> Option<f64> {
    let s = item.scores.reference()?;
    match metric {
        Metric::Bleu => s.bleu.as_ref().map(|b| b.sentence),
        Metric::Chrf | Metric::ChrfPlusPlus => s.chrf_of(metric == Metric::ChrfPlusPlus).map(|c| c.sentence),
        _ => s.rouge.get(metric.name()).map(|r| r.fmeasure),
    }
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
