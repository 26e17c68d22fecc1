//! Generation tasks: each model continues every prompt, and what it wrote is scored against the
//! references exactly as a reference task scores stored outputs (same per-item statistics,
//! corpus scores, intervals and pairwise tests). The outputs stay in the job records, so a
//! resumed run never generates them again, and `generations.json` gathers prompt, references
//! and every model's output per item for the report.

use serde::{Deserialize, Serialize};

use super::cache::{ItemScore, JobRecord};
use crate::data;
use crate::models::LanguageModel;
use crate::suite::{fill_template, PromptSource, TaskDef};

/// Prompts and references of a generation task, item by item.
#[derive(Debug, Clone)]
pub struct GenerationData {
    pub prompts: Vec<String>,
    pub references: Vec<Vec<String>>,
}

/// Reads the task's records: the prompt (a field, or a template filled from fields) and the
/// reference(s) of each.
pub fn load(task: &TaskDef) -> Result<GenerationData, String> {
    let opts = task.generation.as_ref().ok_or("not a generation task")?;
    let spec = &task.dataset;
    let field = |name: &str| data::load_aligned(&spec.path, spec.format, name).map_err(|e| e.to_string());
    let references = field(&opts.reference_field)?;
    let prompts: Vec<String> = match &opts.prompt {
        PromptSource::Field(f) => field(f)?.into_iter().map(|mut v| v.swap_remove(0)).collect(),
        PromptSource::Template(t) => {
            let columns: Vec<(String, Vec<Vec<String>>)> = opts.prompt.fields().into_iter().map(|f| field(&f).map(|c| (f, c))).collect::<Result<_, _>>()?;
            (0..references.len())
                .map(|i| fill_template(t, |name| columns.iter().find(|(f, _)| f == name).map(|(_, c)| c[i].join("\n")).unwrap_or_default()))
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
    let opts = task.generation.as_ref().ok_or("not a generation task")?;
    let prompts: Vec<&str> = data.prompts.iter().map(String::as_str).collect();
    let generations = model.generate(&prompts, &opts.params).map_err(|e| e.to_string())?;
    let outputs: Vec<String> = generations.iter().map(|g| g.text.trim().to_owned()).collect();
    let mut items = super::reference::score_hypotheses(task, &outputs, &data.references)?;
    for ((item, output), g) in items.iter_mut().zip(outputs).zip(&generations) {
        item.scores.insert("generated_tokens".into(), g.tokens as f64);
        item.output = Some(output);
    }
    Ok(items)
}

/// One item of a generation task as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerationRow {
    pub task: String,
    pub item: String,
    pub prompt: String,
    pub references: Vec<String>,
    /// (model, output, per-item scores of the task's metrics).
    pub outputs: Vec<(String, String, Vec<(String, f64)>)>,
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
                    let scores = task.metrics.iter().filter_map(|m| sentence_key(m.name()).and_then(|k| it.scores.get(&k)).map(|v| (m.name().to_owned(), *v))).collect();
                    (r.model.clone(), it.output.clone().unwrap_or_default(), scores)
                })
                .collect(),
        })
        .collect()
}

/// The per-item score shown for a metric: sentence BLEU/chrF, ROUGE F-measure.
fn sentence_key(metric: &str) -> Option<String> {
    Some(if metric.starts_with("rouge") { format!("{metric}.fmeasure") } else { format!("{metric}.sentence") })
}
