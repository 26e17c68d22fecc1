//! Reference tasks: stored system outputs scored against references with BLEU, chrF and ROUGE
//! (generation tasks score what the models wrote the same way).
//!
//! Each item keeps the sufficient statistics of every metric (BLEU and chrF counts, ROUGE
//! precision/recall/F), so corpus scores, bootstrap intervals and paired tests between systems
//! are all computed from the stored per-item scores, exactly as sacrebleu and rouge_score
//! compute them from their own statistics.

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Deserialize;

use super::{Check, JobContext, JobOutput, Task, TaskType, bootstrapped_row};
use crate::data::{self, DatasetSpec, Unit};
use crate::metrics::Metric;
use crate::metrics::bleu::{BleuConfig, Smooth, Tokenizer};
use crate::metrics::chrf::ChrfConfig;
use crate::metrics::rouge::{RougeScorer, RougeType};
use crate::metrics::stats::{self, ItemStats, PairedResult};
use crate::models::Capability;
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::{BleuItem, ChrfItem, ReferenceScores, RougeItem, Scores};
use crate::store::tables::PairwiseRow;
use crate::store::tables::TaskTables;
use crate::suite::{ModelDef, ModelKind, TaskDef};

/// `type: reference`: stored outputs (`kind: outputs` models) against the references in
/// `dataset`, line-aligned (text: one reference per line, blank lines kept; JSONL: the
/// `fields.text` field, a string or a list of references).
pub struct ReferenceType;

/// How outputs are scored and systems compared (reference and generation tasks).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// BLEU tokenizer (13a, intl, char, none, zh).
    #[serde(default)]
    pub tokenize: Option<String>,
    /// BLEU smoothing (exp, floor, add-k, none).
    #[serde(default)]
    pub smooth: Option<String>,
    /// Lower-case before BLEU and chrF.
    #[serde(default)]
    pub lowercase: bool,
    /// Porter-stem ROUGE tokens (rouge_score's use_stemmer); default true.
    #[serde(default)]
    pub stem: Option<bool>,
    /// Pairwise significance between models: paired-bs (default), paired-ar or none.
    #[serde(default)]
    pub significance: Option<String>,
}

/// The options, resolved.
#[derive(Debug, Clone)]
pub struct ReferenceOptions {
    pub bleu: BleuConfig,
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

impl Options {
    pub fn resolve(&self, check: &mut Check) -> ReferenceOptions {
        let mut bleu = BleuConfig { lowercase: self.lowercase, ..BleuConfig::default() };
        if let Some(tok) = &self.tokenize {
            match Tokenizer::from_name(tok) {
                Some(x) => bleu.tokenizer = x,
                None => {
                    check.problem("tokenize", format!("unknown BLEU tokenizer {tok:?} (13a, intl, char, none, zh)"))
                }
            }
        }
        if let Some(sm) = &self.smooth {
            match Smooth::from_name(sm) {
                Some(x) => bleu.smooth = x,
                None => check.problem("smooth", format!("unknown BLEU smoothing {sm:?} (exp, floor, add-k, none)")),
            }
        }
        let significance = match self.significance.as_deref() {
            None | Some("paired-bs") => Significance::PairedBootstrap,
            Some("paired-ar") => Significance::PairedRandomization,
            Some("none") => Significance::None,
            Some(other) => {
                check.problem(
                    "significance",
                    format!("unknown significance test {other:?} (paired-bs, paired-ar, none)"),
                );
                Significance::None
            }
        };
        ReferenceOptions { bleu, lowercase: self.lowercase, stem: self.stem.unwrap_or(true), significance }
    }
}

impl TaskType for ReferenceType {
    const NAME: &'static str = "reference";
    const METRICS: &'static [Metric] = Metric::REFERENCE;
    const NEEDS: &'static [Capability] = &[Capability::StoredOutputs];
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, options: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        if def.dataset.unit != Unit::Line {
            check.problem("dataset.unit", "reference tasks read text line by line".into());
        }
        Box::new(Reference { def, opts: options.resolve(check), references: OnceLock::new() })
    }
}

fn chrf_config(metric: Metric, opts: &ReferenceOptions) -> ChrfConfig {
    ChrfConfig {
        word_order: if metric == Metric::ChrfPlusPlus { 2 } else { 0 },
        lowercase: opts.lowercase,
        ..ChrfConfig::default()
    }
}

fn rouge_type(metric: Metric) -> Option<RougeType> {
    match metric {
        Metric::Rouge1 => Some(RougeType::Rouge1),
        Metric::Rouge2 => Some(RougeType::Rouge2),
        Metric::RougeL => Some(RougeType::RougeL),
        Metric::RougeLsum => Some(RougeType::RougeLsum),
        _ => None,
    }
}

pub struct Reference<'a> {
    def: &'a TaskDef,
    opts: ReferenceOptions,
    references: OnceLock<Result<Vec<Vec<String>>, String>>,
}

impl Task for Reference<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let refs = self.references.get_or_init(|| load_references(&self.def.dataset));
        let n = refs.as_ref().map_or(0, Vec::len) as u64;
        ctx.progress_start(n);
        let items = refs.as_ref().map_err(Clone::clone).and_then(|r| score_outputs(self.def, &self.opts, model, r));
        ctx.progress_advance(n);
        JobOutput { items, description: "stored outputs".into(), notes: Vec::new() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        reference_rows(self.def, &self.opts, record, seed, resamples)
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        item_stats(metric, &self.opts, record)
    }

    fn tables(&self, records: &[&JobRecord], seed: u64) -> TaskTables {
        TaskTables { pairwise: pairwise(self.def, &self.opts, records, seed), ..TaskTables::default() }
    }
}

/// The references of a task, one list per item.
pub fn load_references(spec: &DatasetSpec) -> Result<Vec<Vec<String>>, String> {
    let mut refs = data::load_aligned(&spec.path, spec.format, &spec.fields.text).map_err(|e| e.to_string())?;
    if let Some(limit) = spec.limit {
        refs.truncate(limit);
    }
    Ok(refs)
}

/// Scores one system's stored outputs: per item, every metric's statistics.
pub fn score_outputs(
    task: &TaskDef,
    opts: &ReferenceOptions,
    model: &ModelDef,
    refs: &[Vec<String>],
) -> Result<Vec<ItemScore>, String> {
    let ModelKind::Outputs(src) = &model.kind else {
        return Err(format!("model {} has no stored outputs", model.id));
    };
    let mut outputs: Vec<String> = data::load_aligned(&src.path, src.format, &src.field)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|mut v| v.swap_remove(0))
        .collect();
    if let Some(limit) = task.dataset.limit {
        outputs.truncate(limit);
    }
    if outputs.len() != refs.len() {
        return Err(format!(
            "{} has {} outputs but the references {} have {}; outputs must be line-aligned with references",
            src.path.display(),
            outputs.len(),
            task.dataset.path.display(),
            refs.len()
        ));
    }
    score_hypotheses(task, opts, &outputs, refs)
}

/// Per item, every metric's statistics of `outputs` against `refs` (one list per item).
pub fn score_hypotheses(
    task: &TaskDef,
    opts: &ReferenceOptions,
    outputs: &[String],
    refs: &[Vec<String>],
) -> Result<Vec<ItemScore>, String> {
    let bleu = &opts.bleu;
    let sentence_bleu = BleuConfig { effective_order: true, ..bleu.clone() };
    let rouge_types: Vec<RougeType> = task.metrics.iter().filter_map(|&m| rouge_type(m)).collect();
    let rouge = RougeScorer { types: rouge_types, stem: opts.stem };
    Ok(outputs
        .par_iter()
        .zip(refs.par_iter())
        .enumerate()
        .map(|(i, (hyp, rs))| {
            let r: Vec<&str> = rs.iter().map(String::as_str).collect();
            let mut scores = ReferenceScores::default();
            for &metric in &task.metrics {
                match metric {
                    Metric::Bleu => {
                        let s = bleu.segment_stats(hyp, &r);
                        scores.bleu = Some(BleuItem {
                            sentence: sentence_bleu.score(&s).score,
                            sys_len: s.sys_len as f64,
                            ref_len: s.ref_len as f64,
                            correct: s.correct[..bleu.max_order].iter().map(|&c| c as f64).collect(),
                            total: s.total[..bleu.max_order].iter().map(|&c| c as f64).collect(),
                        });
                    }
                    Metric::Chrf | Metric::ChrfPlusPlus => {
                        let cfg = chrf_config(metric, opts);
                        let s = cfg.segment_stats(hyp, &r);
                        let item = ChrfItem { sentence: cfg.f_score(&s), stats: s.iter().map(|&v| v as f64).collect() };
                        if metric == Metric::Chrf {
                            scores.chrf = Some(item);
                        } else {
                            scores.chrf_plus_plus = Some(item);
                        }
                    }
                    _ => {}
                }
            }
            if !rouge.types.is_empty() {
                for (ty, s) in rouge.score_multi(&r, hyp) {
                    scores.rouge.insert(
                        ty.name().to_owned(),
                        RougeItem { precision: s.precision, recall: s.recall, fmeasure: s.fmeasure },
                    );
                }
            }
            ItemScore { id: (i + 1).to_string(), scores: Scores::Reference(scores), output: None }
        })
        .collect())
}

/// The per-item statistics of one metric, with the scorer of their sum.
pub fn item_stats<'a>(metric: Metric, opts: &'a ReferenceOptions, record: &JobRecord) -> ItemStats<'a> {
    let of = |it: &ItemScore| it.scores.reference().cloned().unwrap_or_default();
    match metric {
        Metric::Bleu => {
            let order = opts.bleu.max_order;
            let rows: Vec<Vec<f64>> = record
                .items
                .iter()
                .map(|it| {
                    let b = of(it).bleu.unwrap_or_default();
                    let at = |v: &[f64], k: usize| v.get(k).copied().unwrap_or(0.0);
                    let mut r = vec![b.sys_len, b.ref_len];
                    r.extend((0..order).map(|k| at(&b.correct, k)));
                    r.extend((0..order).map(|k| at(&b.total, k)));
                    r
                })
                .collect();
            ItemStats { rows, ..crate::metrics::bleu::item_stats(&opts.bleu, &[]) }
        }
        Metric::Chrf | Metric::ChrfPlusPlus => {
            let chrf = chrf_config(metric, opts);
            let width = 3 * chrf.order();
            let rows = record
                .items
                .iter()
                .map(|it| {
                    let stats =
                        of(it).chrf_of(metric == Metric::ChrfPlusPlus).map(|c| c.stats.clone()).unwrap_or_default();
                    (0..width).map(|k| stats.get(k).copied().unwrap_or(0.0)).collect()
                })
                .collect();
            ItemStats {
                rows,
                score: Box::new(move |v: &[f64]| chrf.f_score(&v.iter().map(|&x| x as u64).collect::<Vec<_>>())),
            }
        }
        _ => {
            // ROUGE: the mean per-pair F-measure, as rouge_score's aggregator reports it.
            let rows = record
                .items
                .iter()
                .map(|it| vec![of(it).rouge.get(metric.name()).map_or(0.0, |r| r.fmeasure), 1.0])
                .collect();
            ItemStats { rows, score: Box::new(|s: &[f64]| if s[1] > 0.0 { s[0] / s[1] } else { 0.0 }) }
        }
    }
}

/// Corpus value and bootstrap interval of every metric of a reference task's job.
pub fn reference_rows(
    task: &TaskDef,
    opts: &ReferenceOptions,
    record: &JobRecord,
    seed: u64,
    resamples: usize,
) -> Vec<ResultRow> {
    task.metrics
        .iter()
        .map(|&metric| {
            bootstrapped_row(task, &record.model, metric, &item_stats(metric, opts, record), seed, resamples)
        })
        .collect()
}

/// Paired significance between every two systems of a reference task, per metric.
pub fn pairwise(task: &TaskDef, opts: &ReferenceOptions, records: &[&JobRecord], seed: u64) -> Vec<PairwiseRow> {
    let mut out = Vec::new();
    if opts.significance == Significance::None {
        return out;
    }
    for &metric in &task.metrics {
        let all: Vec<ItemStats> = records.iter().map(|r| item_stats(metric, opts, r)).collect();
        for a in 0..records.len() {
            for b in a + 1..records.len() {
                let mut rng = stats::stream(
                    seed,
                    &format!("paired/{}/{}/{}/{}", task.id, metric.name(), records[a].model, records[b].model),
                );
                let r: PairedResult = match opts.significance {
                    Significance::PairedRandomization => {
                        stats::paired_approximate_randomization(&all[a], &all[b], 10_000, &mut rng)
                    }
                    _ => stats::paired_bootstrap(&all[a], &all[b], 1000, &mut rng),
                };
                out.push(PairwiseRow {
                    task: task.id.clone(),
                    metric: metric.name().into(),
                    model_a: records[a].model.clone(),
                    model_b: records[b].model.clone(),
                    value_a: r.baseline,
                    value_b: r.system,
                    p_value: r.p_value,
                    test: opts.significance.name().into(),
                });
            }
        }
    }
    out
}
