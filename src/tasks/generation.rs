//! Generation tasks: each model continues every prompt, and what it wrote is scored against the
//! references exactly as a reference task scores stored outputs (same per-item statistics,
//! corpus scores, intervals and pairwise tests). The outputs stay in the job records, so a
//! resumed run never generates them again, and `generations.json` gathers prompt, references
//! and every model's output per item for the report.

use std::sync::OnceLock;

use super::reference::{item_stats, pairwise, reference_rows, score_hypotheses};
use super::{JobContext, JobOutput, Task};
use crate::data;
use crate::metrics::Metric;
use crate::metrics::stats::ItemStats;
use crate::models::LanguageModel;
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::Scores;
use crate::store::tables::{GenerationRow, TaskTables};
use crate::suite::{GenerationOptions, ModelDef, PromptSource, TaskDef, TaskKind, fill_template};

/// Items per task whose prompts, references and outputs the report shows.
const GENERATIONS_SHOWN: usize = 50;

pub struct Generation<'a> {
    def: &'a TaskDef,
    data: OnceLock<Result<GenerationData, String>>,
}

impl<'a> Generation<'a> {
    pub fn new(def: &'a TaskDef) -> Self {
        Generation { def, data: OnceLock::new() }
    }

    fn data(&self) -> &Result<GenerationData, String> {
        self.data.get_or_init(|| load(self.def))
    }
}

impl Task for Generation<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, _model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        match (self.data(), ctx.model()) {
            (Ok(d), Ok(m)) => {
                JobOutput { items: run(self.def, m.as_ref(), d), description: m.describe(), notes: Vec::new() }
            }
            (Err(e), _) => JobOutput::failed(e.clone()),
            (_, Err(e)) => JobOutput::failed(e),
        }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        reference_rows(self.def, record, seed, resamples)
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        item_stats(metric, super::reference::options(self.def), record)
    }

    fn tables(&self, records: &[&JobRecord], seed: u64) -> TaskTables {
        let generations = match (records.is_empty(), self.data()) {
            (false, Ok(data)) => rows(self.def, records, data, GENERATIONS_SHOWN),
            _ => Vec::new(),
        };
        TaskTables { pairwise: pairwise(self.def, records, seed), generations, ..TaskTables::default() }
    }
}

fn options(task: &TaskDef) -> Result<&GenerationOptions, String> {
    match &task.kind {
        TaskKind::Generation(g, _) => Ok(g),
        _ => Err("not a generation task".into()),
    }
}

/// Prompts and references of a generation task, item by item.
#[derive(Debug, Clone)]
pub struct GenerationData {
    pub prompts: Vec<String>,
    pub references: Vec<Vec<String>>,
}

/// Reads the task's records: the prompt (a field, or a template filled from fields) and the
/// reference(s) of each.
pub fn load(task: &TaskDef) -> Result<GenerationData, String> {
    let opts = options(task)?;
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
pub fn run(task: &TaskDef, model: &dyn LanguageModel, data: &GenerationData) -> Result<Vec<ItemScore>, String> {
    let opts = options(task)?;
    let prompts: Vec<&str> = data.prompts.iter().map(String::as_str).collect();
    let generations = model.generate(&prompts, &opts.params).map_err(|e| e.to_string())?;
    let outputs: Vec<String> = generations.iter().map(|g| g.text.trim().to_owned()).collect();
    let mut items = score_hypotheses(task, &outputs, &data.references)?;
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
