//! Human-agreement tasks: do a judge's scores of system outputs agree with people's ratings?
//!
//! Every listed model is a judge of the rated outputs (`ratings.rs`): a reference metric
//! (`kind: metric`, each output against its item's references), an n-gram or causal LM (the
//! output's log-likelihood, total and per token, and with `prompt` its log-likelihood given the
//! source or reference), a masked LM (pseudo-log-likelihood) or a reward model (the reward of the
//! output given the source). A task that lists no models runs every reference metric. Each job
//! stores its judge's score of every output; the rows are the agreement statistics of
//! `agreement.rs` per human dimension, with bootstrap intervals over items, and the task's table
//! ranks the judges with PERM-BOTH significance against the best, Holm-corrected.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, Once, OnceLock};

use rayon::prelude::*;
use serde::Deserialize;

use super::agreement::{self, Corpus, JudgeScores, Layout as Index};
use super::ratings::{self, Columns, Layout, Ratings};
use super::{Check, JobContext, JobOutput, Task, TaskType};
use super::{bertscore_judge, metric_judge};
use crate::metrics::Metric;
use crate::metrics::correlation::holm;
use crate::metrics::stats::{self, ItemStats};
use crate::models::neural::Family;
use crate::models::{Capability, LanguageModel};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::Scores;
use crate::store::tables::{HumanAgreementRow, SystemPoint, TaskTables};
use crate::suite::{ModelDef, ModelKind, TaskDef};

/// Outputs scored per model call.
const BATCH: usize = 64;

/// `type: human-agreement`.
pub struct HumanAgreementType;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// documents, darr, mqm or long; default: recognised from the files.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Field names of the long layout.
    #[serde(default)]
    pub columns: Option<Columns>,
    /// LM as evaluator: causal and n-gram judges also score each output after this text, with
    /// `{source}` and `{reference}` replaced by the item's (the first reference).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Permutations of the PERM-BOTH test between judges (default 1000; 0: no test).
    #[serde(default)]
    pub permutations: Option<usize>,
    /// Each human reference of an item with two or more becomes a system too, judged against
    /// the item's other references (rated where the data rates references).
    #[serde(default)]
    pub references_as_systems: bool,
}

impl TaskType for HumanAgreementType {
    const NAME: &'static str = "human-agreement";
    const METRICS: &'static [Metric] = Metric::HUMAN_AGREEMENT;
    const NEEDS: &'static [Capability] =
        &[Capability::Reward, Capability::ScoreTokens, Capability::PseudoLogLikelihood, Capability::TokenEmbeddings];
    const READS_FOLDERS: bool = true;
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, options: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        let detected = match options.layout {
            Some(l) => Some(l),
            None if def.dataset.path.exists() => match ratings::detect(&def.dataset.path) {
                Ok(l) => Some(l),
                Err(e) => {
                    check.problem("dataset.path", e);
                    None
                }
            },
            None => None,
        };
        if let Some(layout) = detected {
            for (j, &m) in def.metrics.iter().enumerate() {
                let pairs = layout == Layout::Darr;
                if pairs != (m == Metric::DarrTauLike) {
                    let why = if pairs {
                        "a daRR dataset holds better/worse pairs, not ratings: only darr_tau_like applies"
                    } else {
                        "darr_tau_like needs a daRR dataset of better/worse pairs"
                    };
                    check.problem(&format!("metrics[{j}]"), format!("{}: {why}", m.name()));
                }
            }
        }
        if options.columns.is_some() && detected.is_some_and(|l| l != Layout::Long) {
            check.problem("columns", "`columns` applies to the long layout only".into());
        }
        if let Some(p) = &options.prompt
            && !p.contains("{source}")
            && !p.contains("{reference}")
        {
            check.problem("prompt", "the prompt names neither {source} nor {reference}".into());
        }
        Box::new(HumanAgreement {
            def,
            layout: detected.unwrap_or(Layout::Long),
            columns: options.columns.unwrap_or_default(),
            prompt: options.prompt,
            permutations: options.permutations.unwrap_or(1000),
            references_as_systems: options.references_as_systems,
            ratings: OnceLock::new(),
            noted: Once::new(),
            computed: Mutex::new(HashMap::new()),
        })
    }

    fn check_model(def: &TaskDef, model: &ModelDef, at: &str, check: &mut Check) {
        if matches!(model.kind, ModelKind::Length | ModelKind::Random) {
            check.problem(
                at,
                format!(
                    "task {:?}: model {:?} is a preference baseline, not a judge of rated outputs",
                    def.id, model.id
                ),
            );
        }
    }
}

pub struct HumanAgreement<'a> {
    def: &'a TaskDef,
    layout: Layout,
    columns: Columns,
    prompt: Option<String>,
    permutations: usize,
    references_as_systems: bool,
    ratings: OnceLock<Result<(Ratings, Index), String>>,
    noted: Once,
    /// Rows each job's aggregation computed, for the task's table.
    computed: Mutex<HashMap<String, Vec<HumanAgreementRow>>>,
}

impl HumanAgreement<'_> {
    fn ratings(&self) -> &Result<(Ratings, Index), String> {
        self.ratings.get_or_init(|| {
            let mut r = ratings::load(&self.def.dataset.path, self.layout, &self.columns, self.def.dataset.limit)?;
            if self.references_as_systems {
                let added = ratings::add_references_as_systems(&mut r);
                r.notes.push(format!(
                    "{added} human references added as systems, each judged against its item's other references"
                ));
            }
            let index = Index::of(&r);
            for (d, name) in r.dimensions.clone().iter().enumerate() {
                let complete = index.complete_items(d);
                if complete < r.segments.len() {
                    r.notes.push(format!(
                        "system-level {name}: {complete} of {} items have every one of the {} systems rated; only those are used",
                        r.segments.len(),
                        index.rated[d].iter().filter(|&&x| x).count()
                    ));
                }
            }
            Ok((r, index))
        })
    }

    /// The dimensions rows are computed for: the ratings' own, or one unnamed for daRR pairs.
    fn dimensions(r: &Ratings) -> Vec<(usize, String)> {
        if r.dimensions.is_empty() {
            vec![(0, String::new())]
        } else {
            r.dimensions.iter().cloned().enumerate().collect()
        }
    }
}

/// A result row's model name: the judge, and the dimension after `@`.
fn row_model(judge: &str, dimension: &str) -> String {
    if dimension.is_empty() { judge.to_owned() } else { format!("{judge}@{dimension}") }
}

/// A judge's name: the job's model, and the score's name after `:` when the model gives several.
fn judge_name(model: &str, variant: &str) -> String {
    if variant == "score" { model.to_owned() } else { format!("{model}:{variant}") }
}

fn level(metric: Metric) -> &'static str {
    let name = metric.name();
    match name.split('_').next() {
        Some("seg") => "segment",
        Some("item") => "item",
        Some("sys") => "system",
        _ => "pairs",
    }
}

impl Task for HumanAgreement<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let (r, _) = match self.ratings() {
            Ok(x) => x,
            Err(e) => return JobOutput::failed(e.clone()),
        };
        self.noted.call_once(|| r.notes.iter().for_each(|n| eprintln!("{}: {n}", self.def.id)));
        ctx.progress_start(r.outputs.len() as u64);
        let mut judge_notes = Vec::new();
        let scored = match &model.kind {
            ModelKind::MetricJudge(recipe) => Ok({
                // Each item's references are tokenized once for all the systems' outputs.
                let prepared: Vec<metric_judge::Prepared> = r
                    .segments
                    .par_iter()
                    .map(|seg| {
                        let refs: Vec<&str> = seg.references.iter().map(String::as_str).collect();
                        metric_judge::prepare(recipe, &refs)
                    })
                    .collect();
                r.outputs
                    .par_iter()
                    .map(|o| {
                        let j = match o.reference {
                            None => metric_judge::judge_prepared(recipe, &o.text, &prepared[o.segment]),
                            // A reference as a system: against the item's other references.
                            Some(k) => {
                                let others: Vec<&str> = r.segments[o.segment]
                                    .references
                                    .iter()
                                    .enumerate()
                                    .filter(|&(i, _)| i != k)
                                    .map(|(_, t)| t.as_str())
                                    .collect();
                                metric_judge::judge(recipe, &o.text, &others)
                            }
                        };
                        let mut m = BTreeMap::from([("score".to_owned(), j.score)]);
                        let metric = recipe.metric.name();
                        m.extend(j.stats.iter().enumerate().map(|(k, &v)| (format!("corpus.{metric}.{k:02}"), v)));
                        m
                    })
                    .collect::<Vec<_>>()
            }),
            ModelKind::Neural(source) if source.family == Family::Encoder => match ctx.model() {
                Ok(lm) => match lm.token_embedder() {
                    Some(embedder) => bertscore_judge::scores(&model.id, embedder, source.options.idf, r, &|n| {
                        ctx.progress_advance(n)
                    })
                    .map(|(maps, notes)| {
                        judge_notes = notes;
                        maps
                    }),
                    None => Err(format!("model {} gives no token embeddings", model.id)),
                },
                Err(e) => Err(e),
            },
            _ => match ctx.model() {
                Ok(lm) => self.model_scores(&model.id, lm.as_ref(), r, &|n| ctx.progress_advance(n)),
                Err(e) => Err(e),
            },
        };
        let description = match &model.kind {
            ModelKind::MetricJudge(recipe) => metric_judge::describe(recipe),
            _ => model.id.clone(),
        };
        let maps = match scored {
            Ok(m) => m,
            Err(e) => return JobOutput { notes: r.notes.clone(), ..JobOutput::failed(e) },
        };
        ctx.progress_advance(0);
        let mut notes = r.notes.clone();
        for note in judge_notes {
            eprintln!("{}: {note}", self.def.id);
            notes.push(note);
        }
        if let Some(first) = maps.first() {
            for variant in first.keys().filter(|k| !k.starts_with("corpus.")) {
                let mut values = maps.iter().map(|m| m[variant]);
                let v0 = values.next().unwrap_or(0.0);
                if values.all(|v| v == v0) {
                    let note = format!(
                        "{}: judge {} gives every output the same score ({v0}): its agreement with people is undefined",
                        self.def.id,
                        judge_name(&model.id, variant)
                    );
                    eprintln!("{note}");
                    notes.push(note);
                }
            }
        }
        let items = r
            .outputs
            .iter()
            .zip(maps)
            .map(|(o, m)| ItemScore { id: o.key(&r.segments), scores: Scores::Judge(m), output: None })
            .collect();
        JobOutput { items: Ok(items), description, notes }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        let Ok((r, index)) = self.ratings() else { return Vec::new() };
        let samples = agreement::samples(
            r.segments.len(),
            resamples,
            &mut stats::stream(seed, &format!("agreement/{}", self.def.id)),
        );
        let all: Vec<usize> = (0..r.segments.len()).collect();
        let mut rows = Vec::new();
        let mut table = Vec::new();
        for (variant, judge) in judges_of(record, r) {
            let name = judge_name(&record.model, &variant);
            for (d, dimension) in Self::dimensions(r) {
                for &metric in &self.def.metrics {
                    let (value, n) = agreement::statistic(metric, r, index, d, &judge, &all);
                    let (low, high) = match value {
                        Some(_) => {
                            agreement::interval(metric, r, index, d, &judge, &samples).unwrap_or((f64::NAN, f64::NAN))
                        }
                        None => (f64::NAN, f64::NAN),
                    };
                    let value = value.unwrap_or(f64::NAN);
                    rows.push(ResultRow {
                        task: self.def.id.clone(),
                        model: row_model(&name, &dimension),
                        metric: metric.name().to_owned(),
                        value,
                        ci_low: low,
                        ci_high: high,
                        n: n as u64,
                        higher_is_better: true,
                    });
                    table.push(HumanAgreementRow {
                        task: self.def.id.clone(),
                        judge: name.clone(),
                        dimension: dimension.clone(),
                        level: level(metric).into(),
                        statistic: metric.name().into(),
                        value,
                        ci_low: low,
                        ci_high: high,
                        n,
                        rank: 0,
                        p_vs_best: f64::NAN,
                        tied_with_best: false,
                    });
                }
            }
        }
        self.computed.lock().expect("not poisoned").insert(record.model.clone(), table);
        rows
    }

    fn item_stats(&self, _metric: Metric, _record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        // Correlations are no sums of per-item rows: gates compare them by value and band.
        ItemStats { rows: Vec::new(), score: Box::new(|_| f64::NAN) }
    }

    fn resamples_items(&self, _metric: Metric) -> bool {
        false
    }

    fn job_model<'m>(&self, row_model: &'m str) -> &'m str {
        row_model.split([':', '@']).next().unwrap_or(row_model)
    }

    fn tables(&self, records: &[&JobRecord], seed: u64) -> TaskTables {
        let Ok((r, index)) = self.ratings() else { return TaskTables::default() };
        let computed = self.computed.lock().expect("not poisoned");
        let mut rows: Vec<HumanAgreementRow> =
            records.iter().filter_map(|rec| computed.get(&rec.model)).flatten().cloned().collect();
        drop(computed);
        let judges: Vec<(String, JudgeScores)> = records
            .iter()
            .flat_map(|rec| judges_of(rec, r).into_iter().map(|(v, j)| (judge_name(&rec.model, &v), j)))
            .collect();
        for (d, dimension) in Self::dimensions(r) {
            for &metric in &self.def.metrics {
                let of: Vec<usize> = (0..rows.len())
                    .filter(|&i| rows[i].dimension == dimension && rows[i].statistic == metric.name())
                    .collect();
                self.rank(&mut rows, &of, &judges, (metric, d), seed, r, index);
            }
        }
        let all: Vec<usize> = (0..r.segments.len()).collect();
        let mut systems = Vec::new();
        if !r.dimensions.is_empty() {
            for (name, judge) in &judges {
                for (d, dimension) in Self::dimensions(r) {
                    let (h, m) = agreement::system_scores(r, index, d, judge, &all);
                    for (k, system) in index.systems.iter().enumerate() {
                        systems.push(SystemPoint {
                            task: self.def.id.clone(),
                            judge: name.clone(),
                            dimension: dimension.clone(),
                            system: system.clone(),
                            human: h[k],
                            score: m[k],
                        });
                    }
                }
            }
        }
        TaskTables { human: rows, systems, ..TaskTables::default() }
    }
}

impl HumanAgreement<'_> {
    /// Ranks the judges of one (dimension, statistic) and tests the best against each other.
    #[allow(clippy::too_many_arguments)]
    fn rank(
        &self,
        rows: &mut [HumanAgreementRow],
        of: &[usize],
        judges: &[(String, JudgeScores)],
        (metric, d): (Metric, usize),
        seed: u64,
        r: &Ratings,
        index: &Index,
    ) {
        let mut order: Vec<usize> = of.iter().copied().filter(|&i| !rows[i].value.is_nan()).collect();
        // Best first; equal values keep the suite's order (a stable sort).
        order.sort_by(|&a, &b| rows[b].value.total_cmp(&rows[a].value));
        for (k, &i) in order.iter().enumerate() {
            rows[i].rank = k + 1;
        }
        let Some(&best) = order.first() else { return };
        rows[best].tied_with_best = true;
        let find = |name: &str| judges.iter().find(|(n, _)| n == name).map(|(_, j)| j);
        let Some(best_scores) = find(&rows[best].judge) else { return };
        if self.permutations == 0 {
            return;
        }
        let others = &order[1..];
        let raw: Vec<f64> = others
            .iter()
            .map(|&i| {
                let label =
                    format!("perm-both/{}/{}/{}/{}", self.def.id, rows[i].dimension, metric.name(), rows[i].judge);
                let mut rng = stats::stream(seed, &label);
                find(&rows[i].judge)
                    .and_then(|other| {
                        agreement::perm_both(metric, r, index, d, best_scores, other, self.permutations, &mut rng)
                    })
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let defined: Vec<usize> = (0..raw.len()).filter(|&k| !raw[k].is_nan()).collect();
        let adjusted = holm(&defined.iter().map(|&k| raw[k]).collect::<Vec<_>>());
        for (&k, p) in defined.iter().zip(adjusted) {
            let i = others[k];
            rows[i].p_vs_best = p;
            rows[i].tied_with_best = p >= 0.05;
        }
    }

    /// Scores every output with a language model or reward model, in batches.
    fn model_scores(
        &self,
        id: &str,
        lm: &dyn LanguageModel,
        r: &Ratings,
        advance: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<BTreeMap<String, f64>>, String> {
        let mut out = Vec::with_capacity(r.outputs.len());
        let context = |o: &ratings::Output| -> String {
            let seg = &r.segments[o.segment];
            // A reference judged as a system is given the first other reference.
            let reference = (0..seg.references.len()).find(|&i| Some(i) != o.reference).unwrap_or(0);
            let p = self.prompt.as_deref().unwrap_or("");
            p.replace("{source}", seg.source.as_deref().unwrap_or(""))
                .replace("{reference}", &seg.references[reference])
        };
        for (b, chunk) in r.outputs.chunks(BATCH).enumerate() {
            let at = |k: usize| format!("output {} of {}", chunk[k].key(&r.segments), self.def.dataset.path.display());
            let mut maps: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); chunk.len()];
            if let Some(reward) = lm.reward_model() {
                let contexts: Vec<String> =
                    chunk.iter().map(|o| r.segments[o.segment].source.clone().unwrap_or_default()).collect();
                let pairs: Vec<(&str, &str)> =
                    contexts.iter().map(String::as_str).zip(chunk.iter().map(|o| o.text.as_str())).collect();
                let rewards = reward
                    .rewards(&pairs)
                    .map_err(|e| format!("outputs {}–{}: {e}", b * BATCH + 1, b * BATCH + chunk.len()))?;
                for (k, v) in rewards.into_iter().enumerate() {
                    if !v.is_finite() {
                        return Err(format!("reward model {id} gave a non-finite reward ({v}) to {}", at(k)));
                    }
                    maps[k].insert("reward".into(), v);
                }
            } else {
                let texts: Vec<&str> = chunk.iter().map(|o| o.text.as_str()).collect();
                let scores = lm.likelihoods(&texts).map_err(|e| format!("{}: {e}", at(0)))?;
                for (k, s) in scores.iter().enumerate() {
                    s.check_finite(id, &at(k))?;
                    let (name, per) = if s.pseudo { ("pll", "pll_per_token") } else { ("loglik", "loglik_per_token") };
                    let total = s.sentence_total();
                    maps[k].insert(name.into(), total);
                    maps[k]
                        .insert(per.into(), if s.logprobs.is_empty() { 0.0 } else { total / s.logprobs.len() as f64 });
                }
                // LM as evaluator: the output given the prompt, by models with exact
                // log-probabilities (a masked LM's context-given score costs a pass per token).
                if self.prompt.is_some() && lm.token_scorer().is_some() {
                    let contexts: Vec<String> = chunk.iter().map(context).collect();
                    let requests: Vec<(&str, &str)> =
                        contexts.iter().map(String::as_str).zip(chunk.iter().map(|o| o.text.as_str())).collect();
                    let scores = lm.continuation_likelihoods(&requests).map_err(|e| format!("{}: {e}", at(0)))?;
                    for (k, s) in scores.iter().enumerate() {
                        s.check_finite(id, &at(k))?;
                        let total = -s.nll();
                        maps[k].insert("prompted".into(), total);
                        let per = if s.logprobs.is_empty() { 0.0 } else { total / s.logprobs.len() as f64 };
                        maps[k].insert("prompted_per_token".into(), per);
                    }
                }
            }
            out.extend(maps);
            advance(chunk.len() as u64);
        }
        Ok(out)
    }
}

/// The judges a job's record holds — each score name its items carry, with the corpus statistics
/// of a metric judge — aligned with the ratings' outputs by id (NaN where an output is missing).
fn judges_of<'r>(record: &JobRecord, r: &'r Ratings) -> Vec<(String, JudgeScores<'r>)> {
    let by_id: HashMap<&str, &BTreeMap<String, f64>> =
        record.items.iter().filter_map(|it| it.scores.judge().map(|m| (it.id.as_str(), m))).collect();
    let Some(first) = record.items.first().and_then(|it| it.scores.judge()) else { return Vec::new() };
    let keys: Vec<String> = r.outputs.iter().map(|o| o.key(&r.segments)).collect();
    let stat_names: Vec<&String> = first.keys().filter(|k| k.starts_with("corpus.")).collect();
    first
        .keys()
        .filter(|k| !k.starts_with("corpus."))
        .map(|variant| {
            let scores = keys
                .iter()
                .map(|k| by_id.get(k.as_str()).and_then(|m| m.get(variant)).copied().unwrap_or(f64::NAN))
                .collect();
            let corpus = (!stat_names.is_empty() && variant == "score").then(|| {
                let recipe = stat_names[0]
                    .split('.')
                    .nth(1)
                    .and_then(|m| m.parse::<Metric>().ok())
                    .map(crate::suite::JudgeRecipe::of);
                Corpus {
                    stats: keys
                        .iter()
                        .map(|k| {
                            stat_names
                                .iter()
                                .map(|s| by_id.get(k.as_str()).and_then(|m| m.get(*s)).copied().unwrap_or(0.0))
                                .collect()
                        })
                        .collect(),
                    score: Box::new(move |v: &[f64]| recipe.and_then(|rc| metric_judge::corpus(&rc, v))),
                }
            });
            (variant.clone(), JudgeScores { scores, corpus })
        })
        .collect()
}
