//! KL-divergence tasks: how far each listed model's next-token distributions are from a base
//! model's on the same text, as `llama-perplexity --kl-divergence` measures a quantized model
//! against the model it was quantized from. Both models read each item in their own windows
//! (which must be the same tokens: one tokenizer, one window policy); every scored position's
//! two distributions are compared whole ([`crate::metrics::divergence`]).
//!
//! A job's items are the windows (`ITEM#K`): tokens within a window depend on one another, so
//! the bootstrap resamples windows, never single tokens. The mean-like metrics are sums over
//! windows and pair with a baseline's like any other; the percentiles are over tokens, and a
//! gate compares them by value and band only.

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Deserialize;

use super::{Check, JobContext, JobOutput, Task, TaskType};
use crate::data::{self, Item};
use crate::metrics::Metric;
use crate::metrics::divergence::{Divergence, TokenComparison, compare};
use crate::metrics::stats::{ItemStats, bootstrap, percentile_interval, stream};
use crate::models::{Capability, NextTokenDistributions, TokenWindow};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::Scores;
use crate::suite::{ModelDef, TaskDef};

/// `type: kl-divergence`.
pub struct KlDivergenceType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The id of the suite model the task's models are compared with.
    pub base: String,
}

impl TaskType for KlDivergenceType {
    const NAME: &'static str = "kl-divergence";
    const METRICS: &'static [Metric] = Metric::DIVERGENCE;
    const NEEDS: &'static [Capability] = &[Capability::NextTokenDistributions];
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, options: Options, _check: &mut Check) -> Box<dyn Task + 'a> {
        Box::new(KlDivergence { def, base: options.base, items: OnceLock::new() })
    }

    fn check_suite(def: &TaskDef, options: &Options, models: &[ModelDef], check: &mut Check) {
        let Some(base) = models.iter().find(|m| m.id == options.base) else {
            let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
            check.problem(
                "base",
                format!("base model {:?} is not in the suite (models: {})", options.base, ids.join(", ")),
            );
            return;
        };
        if !base.kind.capabilities().contains(&Capability::NextTokenDistributions) {
            check.problem(
                "base",
                format!(
                    "base model {:?} (kind {}) cannot give {}",
                    base.id,
                    base.kind.name(),
                    Capability::NextTokenDistributions
                ),
            );
        }
        if def.models.contains(&options.base) {
            check.problem(
                "base",
                format!(
                    "base model {:?} is also among the task's models; it would only be compared with itself",
                    base.id
                ),
            );
        }
    }
}

pub struct KlDivergence<'a> {
    def: &'a TaskDef,
    base: String,
    items: OnceLock<Result<Vec<Item>, String>>,
}

fn divergence_of(item: &ItemScore) -> Divergence {
    item.scores.divergence().cloned().unwrap_or_default()
}

/// The percentiles are over tokens: no sum of per-window rows gives them.
fn is_percentile(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::KlDivergenceMedian
            | Metric::KlDivergenceP90
            | Metric::KlDivergenceP99
            | Metric::KlDivergenceP999
            | Metric::KlDivergenceMax
    )
}

impl Task for KlDivergence<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let items = self.items.get_or_init(|| data::load(&self.def.dataset).map_err(|e| e.to_string()));
        let items = match items {
            Ok(items) => items,
            Err(e) => return JobOutput::failed(e.clone()),
        };
        let (lm, base) = match (ctx.model(), ctx.other_model(&self.base)) {
            (Ok(lm), Ok(base)) => (lm, base),
            (Err(e), _) => return JobOutput::failed(e),
            (_, Err(e)) => return JobOutput::failed(format!("base model {}: {e}", self.base)),
        };
        let (m, b) = match (lm.next_token_distributions(), base.next_token_distributions()) {
            (Ok(m), Ok(b)) => (m, b),
            (Err(e), _) | (_, Err(e)) => return JobOutput::failed(e.to_string()),
        };
        if m.vocabulary() != b.vocabulary() {
            return JobOutput::failed(format!(
                "model {} has a vocabulary of {} tokens and base model {} one of {}: distributions over different vocabularies cannot be compared",
                model.id,
                m.vocabulary(),
                self.base,
                b.vocabulary()
            ));
        }
        ctx.progress_start(items.len() as u64);
        let mut out = Vec::new();
        for item in items {
            match self.compare_item(&model.id, m, b, item) {
                Ok(scored) => out.extend(scored),
                Err(e) => return JobOutput::failed(e),
            }
            ctx.progress_advance(1);
        }
        let description = format!("{} (compared with base model {}: {})", lm.describe(), self.base, base.describe());
        JobOutput { items: Ok(out), description, notes: Vec::new() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        let windows: Vec<Divergence> = record.items.iter().map(divergence_of).collect();
        let metrics = &self.def.metrics;
        let pooled = |sample: &mut dyn Iterator<Item = usize>| {
            let mut sum = Divergence::default();
            sample.for_each(|i| sum.merge(&windows[i]));
            sum.metrics(metrics)
        };
        let values = pooled(&mut (0..windows.len()));
        // One stream per task: every model is resampled with the same windows.
        let mut rng = stream(seed, &format!("bootstrap/{}", record.task));
        let resampled = bootstrap(windows.len(), resamples, &mut rng, |s| pooled(&mut s.iter().copied()));
        metrics
            .iter()
            .enumerate()
            .map(|(k, &metric)| {
                let of_metric: Vec<f64> = resampled.iter().map(|v| v[k]).collect();
                let (ci_low, ci_high) = percentile_interval(&of_metric).unwrap_or((f64::NAN, f64::NAN));
                ResultRow {
                    task: self.def.id.clone(),
                    model: record.model.clone(),
                    metric: metric.name().to_owned(),
                    value: values[k],
                    ci_low,
                    ci_high,
                    n: windows.len() as u64,
                    higher_is_better: metric.higher_is_better(),
                }
            })
            .collect()
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        let rows = record.items.iter().map(|it| {
            let d = divergence_of(it);
            vec![d.tokens, d.kld, d.same_top, d.nll, d.nll_base, d.delta_p, d.delta_p2]
        });
        ItemStats {
            rows: rows.collect(),
            score: Box::new(move |s: &[f64]| {
                let d = Divergence {
                    tokens: s[0],
                    kld: s[1],
                    same_top: s[2],
                    nll: s[3],
                    nll_base: s[4],
                    delta_p: s[5],
                    delta_p2: s[6],
                    values: Vec::new(),
                };
                if is_percentile(metric) { f64::NAN } else { d.metrics(&[metric])[0] }
            }),
        }
    }

    fn resamples_items(&self, metric: Metric) -> bool {
        !is_percentile(metric)
    }
}

impl KlDivergence<'_> {
    /// One item's windows, each compared position by position.
    fn compare_item(
        &self,
        model_id: &str,
        m: &dyn NextTokenDistributions,
        b: &dyn NextTokenDistributions,
        item: &Item,
    ) -> Result<Vec<ItemScore>, String> {
        let at = item.location(&self.def.dataset.path);
        let windows = m.token_windows(&item.text).map_err(|e| format!("{at}: {e}"))?;
        let base_windows = b.token_windows(&item.text).map_err(|e| format!("{at}: base model {}: {e}", self.base))?;
        if let Some(why) = differ(&windows, &base_windows) {
            return Err(format!(
                "{at}: model {model_id} and base model {} read the text differently ({why}); their distributions can only be compared over the same tokens (one tokenizer, one window policy)",
                self.base
            ));
        }
        let vocab = m.vocabulary();
        let mut out = Vec::with_capacity(windows.len());
        for (k, w) in windows.iter().enumerate() {
            let base_logits = b.window_logits(w).map_err(|e| format!("{at}: base model {}: {e}", self.base))?;
            let logits = m.window_logits(w).map_err(|e| format!("{at}: {e}"))?;
            let rows = w.targets.len();
            if logits.len() != rows * vocab || base_logits.len() != rows * vocab {
                return Err(format!("{at}: window {} gave logits of the wrong size", k + 1));
            }
            let compared: Vec<TokenComparison> = (0..rows)
                .into_par_iter()
                .map(|r| {
                    let span = r * vocab..(r + 1) * vocab;
                    compare(&base_logits[span.clone()], &logits[span], w.targets[r] as usize)
                })
                .collect();
            let mut d = Divergence::default();
            for (r, c) in compared.iter().enumerate() {
                if ![c.kld, c.nll, c.nll_base].iter().all(|v| v.is_finite()) {
                    return Err(format!(
                        "{at}: window {}, position {}: model {model_id} or base model {} gave non-finite logits; its weights are broken",
                        k + 1,
                        w.first + r,
                        self.base
                    ));
                }
                d.add(c);
            }
            out.push(ItemScore { id: format!("{}#{}", item.id, k + 1), scores: Scores::Divergence(d), output: None });
        }
        Ok(out)
    }
}

/// Where two models' windows of one text part, if they do.
fn differ(a: &[TokenWindow], b: &[TokenWindow]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} windows against {}", a.len(), b.len()));
    }
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        if let Some(t) = x.input.iter().zip(&y.input).position(|(p, q)| p != q) {
            return Some(format!("window {}, token {}: id {} against {}", k + 1, t, x.input[t], y.input[t]));
        }
        if x != y {
            return Some(format!("window {}: different lengths or scored positions", k + 1));
        }
    }
    None
}
