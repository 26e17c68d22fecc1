//! Perplexity tasks: every model scores every item of a dataset; a job's items keep each text's
//! negative log-likelihood and its sizes (tokens, words, bytes), and the corpus metrics (token
//! and word perplexity, bits per byte, …) come from their sums, each with n and a seeded 95%
//! bootstrap interval. A masked LM's sums are pseudo-log-likelihoods, reported under the pseudo
//! forms of the metrics.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{Check, JobContext, JobOutput, Task, TaskType};
use crate::data::{self, Item};
use crate::metrics::Metric;
use crate::metrics::perplexity::PerplexityCounts;
use crate::metrics::stats::{ItemStats, bootstrap, percentile_interval, stream};
use crate::models::{Capability, LanguageModel};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::{LikelihoodScores, Scores};
use crate::suite::{ModelDef, TaskDef};

/// Items scored per call: neural models batch within a chunk, and progress moves per chunk.
const CHUNK: usize = 256;

/// `type: perplexity`. A masked LM serves it with pseudo-log-likelihoods, reported under the
/// pseudo forms of the metrics so that they never rank beside true perplexities.
pub struct PerplexityType;

/// A perplexity task has no keys beyond the ones every task has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {}

impl TaskType for PerplexityType {
    const NAME: &'static str = "perplexity";
    const METRICS: &'static [Metric] = Metric::PERPLEXITY;
    const NEEDS: &'static [Capability] = &[Capability::ScoreTokens, Capability::PseudoLogLikelihood];
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, _options: Options, _check: &mut Check) -> Box<dyn Task + 'a> {
        Box::new(Perplexity { def, items: OnceLock::new() })
    }

    /// llama-perplexity's chunks score half of each chunk's tokens: only token perplexity exists.
    fn check_model(def: &TaskDef, model: &ModelDef, at: &str, check: &mut Check) {
        use crate::models::neural::Windows;
        let crate::suite::ModelKind::Neural(source) = &model.kind else { return };
        let other: Vec<&str> =
            def.metrics.iter().filter(|m| **m != Metric::TokenPerplexity).map(|m| m.name()).collect();
        if source.options.windows == Windows::LlamaPerplexity && !other.is_empty() {
            check.problem(
                at,
                format!(
                    "model {:?} reads text in llama-perplexity chunks, which score only the second half of each chunk; {} over the whole text cannot be computed from them (ask for token_perplexity, or give the model rolling windows)",
                    model.id,
                    other.join(", ")
                ),
            );
        }
    }
}

pub struct Perplexity<'a> {
    def: &'a TaskDef,
    items: OnceLock<Result<Vec<Item>, String>>,
}

fn counts_of(item: &ItemScore) -> PerplexityCounts {
    let s = item.scores.likelihood().copied().unwrap_or_default();
    PerplexityCounts { nll: s.nll, tokens: s.tokens, words: s.words, bytes: s.bytes }
}

impl Task for Perplexity<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let items = self.items.get_or_init(|| data::load(&self.def.dataset).map_err(|e| e.to_string()));
        let (items, lm) = match (items, ctx.model()) {
            (Ok(items), Ok(lm)) => (items, lm),
            (Err(e), _) => return JobOutput::failed(e.clone()),
            (_, Err(e)) => return JobOutput::failed(e),
        };
        ctx.progress_start(items.len() as u64);
        let scored = score(&model.id, &self.def.dataset.path, lm.as_ref(), items, ctx);
        JobOutput { items: scored, description: lm.describe(), notes: Vec::new() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        let items: Vec<PerplexityCounts> = record.items.iter().map(counts_of).collect();
        let mut total = PerplexityCounts::default();
        items.iter().for_each(|c| total.add(c));
        // One stream per task: every model on a task is resampled with the same items, so their
        // intervals are paired and differ only through the models.
        let mut rng = stream(seed, &format!("bootstrap/{}", record.task));
        let resampled: Vec<PerplexityCounts> = bootstrap(items.len(), resamples, &mut rng, |sample| {
            let mut sum = PerplexityCounts::default();
            sample.iter().for_each(|&i| sum.add(&items[i]));
            sum
        });
        let pseudo = record.items.iter().any(|it| it.scores.likelihood().is_some_and(|s| s.pseudo));
        self.def
            .metrics
            .iter()
            .map(|&metric| if pseudo { metric.pseudo() } else { metric })
            .map(|metric| {
                let values: Vec<f64> = resampled.iter().map(|c| c.metric(metric)).collect();
                let (ci_low, ci_high) = percentile_interval(&values).unwrap_or((f64::NAN, f64::NAN));
                ResultRow {
                    task: self.def.id.clone(),
                    model: record.model.clone(),
                    metric: metric.name().to_owned(),
                    value: total.metric(metric),
                    ci_low,
                    ci_high,
                    n: record.items.len() as u64,
                    higher_is_better: metric.higher_is_better(),
                }
            })
            .collect()
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        let rows = record.items.iter().map(|it| {
            let c = counts_of(it);
            vec![c.nll, c.tokens, c.words, c.bytes]
        });
        ItemStats {
            rows: rows.collect(),
            score: Box::new(move |s: &[f64]| {
                PerplexityCounts { nll: s[0], tokens: s[1], words: s[2], bytes: s[3] }.metric(metric)
            }),
        }
    }
}

/// Scores items in chunks. A failing chunk is retried item by item so that the error names the
/// item.
fn score(
    model_id: &str,
    dataset: &Path,
    model: &dyn LanguageModel,
    items: &[Item],
    ctx: &dyn JobContext,
) -> Result<Vec<ItemScore>, String> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|i| i.text.as_str()).collect();
        let scores = match model.likelihoods(&texts) {
            Ok(s) => s,
            Err(batch_error) => {
                for item in chunk {
                    model
                        .likelihoods(&[item.text.as_str()])
                        .map_err(|e| format!("item {} (line {}): {e}", item.id, item.line))?;
                }
                return Err(batch_error.to_string());
            }
        };
        for (item, s) in chunk.iter().zip(scores) {
            s.check_finite(model_id, &item.location(dataset))?;
            let c = PerplexityCounts::from_scores(&item.text, &s);
            let scores = LikelihoodScores {
                nll: c.nll,
                tokens: c.tokens,
                words: c.words,
                bytes: c.bytes,
                oov: s.oov as f64,
                pseudo: s.pseudo,
            };
            out.push(ItemScore { id: item.id.clone(), scores: Scores::Likelihood(scores), output: None });
        }
        ctx.progress_advance(chunk.len() as u64);
    }
    Ok(out)
}
