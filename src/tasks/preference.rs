//! Preference tasks: judges pick between the response people chose and the one they rejected.
//!
//! A judge is a model that scores tokens (the log-likelihood of each response given the prompt,
//! summed and per token: two judges), or a baseline: `length` (the longer response wins) or
//! `random` (a seeded coin flip). Each item keeps both responses' scores and lengths, so accuracy
//! (RewardBench's strict form: ties are wrong), ties-as-half accuracy, tie rate, the margin's
//! correlation with length, agreement and Cohen's kappa between judges, and all intervals come
//! from the stored scores.

use std::collections::BTreeMap;

use std::sync::{Once, OnceLock};

use rayon::prelude::*;
use serde::Deserialize;

use super::{Check, JobContext, JobOutput, Task, TaskType, bootstrapped_row};
use crate::data::pairs::{Pair, PairLayout, hh_dialogue};
use crate::metrics::Metric;
use crate::metrics::stats::{self, ItemStats, Scorer};
use crate::models::prompt::{Delimiters, Exchange, Prompt};
use crate::models::{Capability, LanguageModel, RewardModel};
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::{PreferenceScores, Scores};
use crate::store::tables::TaskTables;
use crate::store::tables::{AgreementRow, Disagreement, JudgeRow, SubsetRow};
use crate::suite::{ModelDef, ModelKind, TaskDef};

/// A judge's (sum, per-token mean) scores of the chosen and of the rejected response.
type PairScores = ((f64, f64), (f64, f64));

/// Pairs and the notes on pairs skipped while reading them.
type LoadedPairs = Result<(Vec<Pair>, Vec<String>), String>;

/// How many pairs the best judge decides against people are shown in the report.
const DISAGREEMENTS_SHOWN: usize = 10;

/// `type: preference`: pairs of responses with a human preference (JSON Lines), judged by
/// every listed model.
pub struct PreferenceType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `hh` (HH-RLHF transcripts `chosen`/`rejected`; the prompt is the dialogue before the last
    /// `\n\nAssistant:`), `explicit` (`prompt`, `chosen`, `rejected` fields) or `comparisons`.
    #[serde(default)]
    pub layout: Option<String>,
}

impl TaskType for PreferenceType {
    const NAME: &'static str = "preference";
    const METRICS: &'static [Metric] = Metric::PREFERENCE;
    /// Reward models and baseline judges judge pairs directly; any model that scores tokens
    /// judges them by log-likelihood (pseudo-log-likelihood for masked LMs).
    const NEEDS: &'static [Capability] =
        &[Capability::Reward, Capability::ScoreTokens, Capability::PseudoLogLikelihood];
    /// A chat model reads HH-RLHF dialogues as conversations (layout `hh` only).
    const CHAT: bool = true;
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, options: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        let layout = match options.layout.as_deref() {
            None | Some("hh") => PairLayout::Hh,
            Some("explicit") => PairLayout::Explicit,
            Some("comparisons") => PairLayout::Comparisons,
            Some(other) => {
                check.problem("layout", format!("unknown pair layout {other:?} (hh, explicit, comparisons)"));
                PairLayout::Hh
            }
        };
        Box::new(Preference { def, layout, pairs: OnceLock::new(), noted: Once::new() })
    }

    fn check_suite(def: &TaskDef, options: &Options, models: &[ModelDef], check: &mut Check) {
        if matches!(options.layout.as_deref(), None | Some("hh")) {
            return;
        }
        for (j, id) in def.models.iter().enumerate() {
            let chat = models
                .iter()
                .any(|m| &m.id == id && matches!(&m.kind, ModelKind::Neural(n) if n.options.chat.is_some()));
            if chat {
                check.problem(
                    &format!("models[{j}]"),
                    format!("model {id:?} is a chat model: its template reads HH-RLHF dialogues (layout hh), not layout {:?}", options.layout.as_deref().unwrap_or("")),
                );
            }
        }
    }
}

pub struct Preference<'a> {
    def: &'a TaskDef,
    layout: PairLayout,
    pairs: OnceLock<LoadedPairs>,
    /// The notes on skipped pairs are printed once per run, by the first job that reads them.
    noted: Once,
}

impl Preference<'_> {
    fn pairs(&self) -> &LoadedPairs {
        self.pairs.get_or_init(|| {
            crate::data::pairs::load_pairs(&self.def.dataset.path, self.layout, self.def.dataset.limit)
                .map_err(|e| e.to_string())
        })
    }
}

impl Task for Preference<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let loaded = match self.pairs() {
            Ok(l) => l,
            Err(e) => return JobOutput::failed(e.clone()),
        };
        self.noted.call_once(|| loaded.1.iter().for_each(|n| eprintln!("{n}")));
        // Baseline and metric judges need no language model.
        let lm = match model.kind {
            ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_) => None,
            _ => match ctx.model() {
                Ok(m) => Some(m),
                Err(e) => return JobOutput { notes: loaded.1.clone(), ..JobOutput::failed(e) },
            },
        };
        ctx.progress_start(loaded.0.len() as u64);
        let items = judge(self.def, model, lm.as_deref(), &loaded.0, ctx.seed(), &|n| ctx.progress_advance(n));
        JobOutput { items, description: describe_judge(model), notes: loaded.1.clone() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        preference_rows(self.def, record, seed, resamples)
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, judge: &str) -> ItemStats<'_> {
        metric_stats(metric, record, judge.ends_with(":mean"))
    }

    fn job_model<'m>(&self, row_model: &'m str) -> &'m str {
        row_model.strip_suffix(":mean").unwrap_or(row_model)
    }

    fn tables(&self, records: &[&JobRecord], _seed: u64) -> TaskTables {
        let (judges, agreement) = judges_and_agreement(self.def, records);
        // The texts are not in the job records: subsets and examples come from the pairs.
        let (subsets, disagreements) = match (records.is_empty(), self.pairs()) {
            (false, Ok((pairs, _))) => subsets_and_disagreements(self.def, records, pairs, DISAGREEMENTS_SHOWN),
            _ => (Vec::new(), Vec::new()),
        };
        TaskTables { judges, agreement, subsets, disagreements, ..TaskTables::default() }
    }
}

/// What a judge is, for the report; a language model's own description comes from its loader.
fn describe_judge(def: &ModelDef) -> String {
    match def.kind {
        ModelKind::Length => "baseline judge: the longer response wins".into(),
        ModelKind::Random => "baseline judge: a seeded coin flip".into(),
        ModelKind::MetricJudge(recipe) => {
            format!("reference-metric judge: {} of each response against the reference", recipe.metric.name())
        }
        _ => def.id.clone(),
    }
}

/// Natural-log probability (pseudo-log-likelihood for masked LMs) of the response in
/// `prompt + response`, summed and per token: the tokens that reach into the response (its words
/// and its end-of-sentence tokens).
fn conditional_loglik(scores: &crate::models::TokenScores, prompt_len: usize) -> (f64, f64) {
    let reaching = scores.logprobs.iter().zip(&scores.spans).filter(|(_, span)| span.1 > prompt_len);
    sum_and_mean(reaching.map(|(lp, _)| *lp))
}

/// A response's summed log-likelihood and its mean per token (0 for no tokens).
fn sum_and_mean(logprobs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (sum, n) = logprobs.fold((0.0, 0usize), |(s, n), lp| (s + lp, n + 1));
    (sum, if n > 0 { sum / n as f64 } else { 0.0 })
}

/// Both responses of a pair must have finite scores.
fn check_pair(model_id: &str, p: &Pair, two: &[crate::models::TokenScores]) -> Result<(), String> {
    two[0].check_finite(model_id, &format!("the chosen response of the pair at line {}", p.line))?;
    two[1].check_finite(model_id, &format!("the rejected response of the pair at line {}", p.line))
}

/// (chosen, rejected) rewards of every pair from a reward model (in the first slot of each tuple).
fn reward_scores(
    model_id: &str,
    model: &dyn RewardModel,
    pairs: &[Pair],
    advance: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PairScores>, String> {
    const CHUNK: usize = 256;
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(CHUNK) {
        let inputs: Vec<(&str, &str)> = chunk
            .iter()
            .flat_map(|p| [(p.prompt.as_str(), p.chosen.as_str()), (p.prompt.as_str(), p.rejected.as_str())])
            .collect();
        let r = model
            .rewards(&inputs)
            .map_err(|e| format!("pairs at lines {}–{}: {e}", chunk[0].line, chunk[chunk.len() - 1].line))?;
        if let Some(k) = r.iter().position(|v| !v.is_finite()) {
            let which = if k % 2 == 0 { "chosen" } else { "rejected" };
            return Err(format!(
                "reward model {model_id} gave a non-finite reward ({}) to the {which} response of the pair at line {}; its weights or configuration are broken",
                r[k],
                chunk[k / 2].line
            ));
        }
        out.extend(r.chunks(2).map(|two| ((two[0], 0.0), (two[1], 0.0))));
        advance(chunk.len() as u64);
    }
    Ok(out)
}

/// A chat model's (chosen, rejected) log-likelihoods: the pair's dialogue (HH-RLHF's `Human:` and
/// `Assistant:` turns) rendered as a conversation by the model's template, each response scored
/// as the assistant's answer, summed and per token.
fn chat_likelihoods(
    task: &TaskDef,
    model_id: &str,
    model: &dyn LanguageModel,
    pairs: &[Pair],
    advance: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PairScores>, String> {
    const CHUNK: usize = 64;
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(CHUNK) {
        let contexts: Vec<String> = chunk
            .iter()
            .map(|p| {
                let at = || format!("model {model_id}, task {}, pair at line {}", task.id, p.line);
                let (exchanges, question) = hh_dialogue(&p.prompt).map_err(|e| format!("{}: {e}", at()))?;
                let prompt = Prompt {
                    exchanges: exchanges.into_iter().map(|(question, answer)| Exchange { question, answer }).collect(),
                    question,
                    delimiters: Delimiters { multiturn: true, ..Delimiters::default() },
                };
                model.render_prompt(&prompt).map_err(|e| format!("{}: {e}", at()))
            })
            .collect::<Result<_, String>>()?;
        let requests: Vec<(&str, &str)> = chunk
            .iter()
            .zip(&contexts)
            .flat_map(|(p, c)| [(c.as_str(), p.chosen.trim()), (c.as_str(), p.rejected.trim())])
            .collect();
        let scores = model
            .continuation_likelihoods(&requests)
            .map_err(|e| format!("pairs at lines {}–{}: {e}", chunk[0].line, chunk[chunk.len() - 1].line))?;
        for (p, two) in chunk.iter().zip(scores.chunks(2)) {
            check_pair(model_id, p, two)?;
            let judged = |s: &crate::models::TokenScores| sum_and_mean(s.logprobs.iter().copied());
            out.push((judged(&two[0]), judged(&two[1])));
        }
        advance(chunk.len() as u64);
    }
    Ok(out)
}

/// (chosen, rejected) conditional log-likelihoods of every pair, scored in batches.
fn likelihoods(
    model_id: &str,
    model: &dyn LanguageModel,
    pairs: &[Pair],
    advance: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PairScores>, String> {
    const CHUNK: usize = 128;
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(CHUNK) {
        let texts: Vec<String> = chunk
            .iter()
            .flat_map(|p| [format!("{}{}", p.prompt, p.chosen), format!("{}{}", p.prompt, p.rejected)])
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = model
            .likelihoods(&refs)
            .map_err(|e| format!("pairs at lines {}–{}: {e}", chunk[0].line, chunk[chunk.len() - 1].line))?;
        for (p, two) in chunk.iter().zip(scores.chunks(2)) {
            check_pair(model_id, p, two)?;
            out.push((conditional_loglik(&two[0], p.prompt.len()), conditional_loglik(&two[1], p.prompt.len())));
        }
        advance(chunk.len() as u64);
    }
    Ok(out)
}

/// Scores every pair with one judge.
pub fn judge(
    task: &TaskDef,
    def: &ModelDef,
    model: Option<&dyn LanguageModel>,
    pairs: &[Pair],
    seed: u64,
    advance: &(dyn Fn(u64) + Sync),
) -> Result<Vec<ItemScore>, String> {
    let mut rng = stats::stream(seed, &format!("random-judge/{}/{}", task.id, def.id));
    let coins: Vec<f64> = pairs.iter().map(|_| stats::below(&mut rng, 1 << 30) as f64).collect();
    let judged_by_model = !matches!(def.kind, ModelKind::Length | ModelKind::Random | ModelKind::MetricJudge(_));
    let reward_model = model.and_then(|m| m.reward_model());
    let rewards = reward_model.is_some();
    let loglik = match (model, reward_model) {
        (Some(_), Some(r)) if judged_by_model => reward_scores(&def.id, r, pairs, advance)?,
        (Some(m), None) if judged_by_model && m.is_chat() => chat_likelihoods(task, &def.id, m, pairs, advance)?,
        (Some(m), None) if judged_by_model => likelihoods(&def.id, m, pairs, advance)?,
        _ => {
            // Judges without a model decide every pair at once, below.
            advance(pairs.len() as u64);
            Vec::new()
        }
    };
    pairs
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let (len_chosen, len_rejected) = (p.chosen.chars().count() as f64, p.rejected.chars().count() as f64);
            let ((chosen, rejected), per_token) = match (&def.kind, model) {
                (ModelKind::Length, _) => ((len_chosen, len_rejected), None),
                (ModelKind::MetricJudge(recipe), _) => {
                    let reference = p.reference.as_deref().ok_or_else(|| {
                        format!("pair at line {} has no \"reference\": metric judges need one", p.line)
                    })?;
                    (
                        (
                            super::metric_judge::judge(recipe, &p.chosen, &[reference]).score,
                            super::metric_judge::judge(recipe, &p.rejected, &[reference]).score,
                        ),
                        None,
                    )
                }
                (ModelKind::Random, _) => {
                    // One draw per pair: the chosen response wins when it is even.
                    let heads = (coins[i] as u64).is_multiple_of(2);
                    (if heads { (1.0, 0.0) } else { (0.0, 1.0) }, None)
                }
                (_, Some(_)) if rewards => ((loglik[i].0.0, loglik[i].1.0), None),
                (_, Some(_)) => {
                    let ((c_sum, c_mean), (r_sum, r_mean)) = loglik[i];
                    ((c_sum, r_sum), Some((c_mean, r_mean)))
                }
                (_, None) => return Err(format!("model {} cannot judge pairs", def.id)),
            };
            let s = Scores::Preference(PreferenceScores { chosen, rejected, per_token, len_chosen, len_rejected });
            Ok(ItemScore { id: p.line.to_string(), scores: s, output: None })
        })
        .collect()
}

/// The judges a record holds: (judge id, whether it is the per-token mean judge).
pub fn variants(record: &JobRecord) -> Vec<(String, bool)> {
    let has_mean = record.items.first().and_then(|i| i.scores.preference()).is_some_and(|p| p.per_token.is_some());
    let mut v = vec![(record.model.clone(), false)];
    if has_mean {
        v.push((format!("{}:mean", record.model), true));
    }
    v
}

/// An item's (chosen, rejected) scores under one judge; NaN when the item has none.
fn judged(it: &ItemScore, per_token: bool) -> (f64, f64) {
    match it.scores.preference() {
        Some(p) if per_token => p.per_token.unwrap_or((f64::NAN, f64::NAN)),
        Some(p) => (p.chosen, p.rejected),
        None => (f64::NAN, f64::NAN),
    }
}

/// Per item: +1 when the judge prefers the chosen response, 0 on a tie, −1 otherwise.
pub fn outcomes(record: &JobRecord, per_token: bool) -> Vec<i8> {
    record
        .items
        .iter()
        .map(|it| {
            let (c, r) = judged(it, per_token);
            if c > r {
                1
            } else if c < r {
                -1
            } else {
                0
            }
        })
        .collect()
}

/// The per-item statistics of one metric of one judge (summed, or the per-token mean).
pub fn metric_stats(metric: Metric, record: &JobRecord, per_token: bool) -> ItemStats<'static> {
    let o = outcomes(record, per_token);
    let rows: Vec<Vec<f64>> = match metric {
        Metric::LengthCorrelation => record
            .items
            .iter()
            .map(|it| {
                let zero = |v: f64| if v.is_nan() { 0.0 } else { v };
                let (c, r) = judged(it, per_token);
                let m = zero(c) - zero(r);
                let l = it.scores.preference().map_or(0.0, |p| p.len_chosen - p.len_rejected);
                vec![m, l, m * m, l * l, m * l, 1.0]
            })
            .collect(),
        _ => o.iter().map(|&x| vec![(x == 1) as u8 as f64, (x == 0) as u8 as f64, 1.0]).collect(),
    };
    let score: Scorer<'static> = match metric {
        Metric::Accuracy => Box::new(|s: &[f64]| s[0] / s[2]),
        Metric::AccuracyTiesHalf => Box::new(|s: &[f64]| (s[0] + 0.5 * s[1]) / s[2]),
        Metric::TieRate => Box::new(|s: &[f64]| s[1] / s[2]),
        _ => Box::new(|s: &[f64]| {
            // Pearson correlation from sums.
            let n = s[5];
            let cov = s[4] - s[0] * s[1] / n;
            let vm = s[2] - s[0] * s[0] / n;
            let vl = s[3] - s[1] * s[1] / n;
            cov / (vm * vl).sqrt()
        }),
    };
    ItemStats { rows, score }
}

/// Result rows of one judge job: every metric for the summed judge and, for language models,
/// the per-token mean judge.
pub fn preference_rows(task: &TaskDef, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
    let mut out = Vec::new();
    for (judge, per_token) in variants(record) {
        for &metric in &task.metrics {
            out.push(bootstrapped_row(task, &judge, metric, &metric_stats(metric, record, per_token), seed, resamples));
        }
    }
    out
}

/// Accuracy of `judge` on one subset (`wins` of `n`), with its Wilson 95% interval.
pub fn subset_row(task: &TaskDef, judge: &str, subset: String, n: usize, wins: usize) -> SubsetRow {
    let (lo, hi) = wilson(wins, n);
    SubsetRow {
        task: task.id.clone(),
        judge: judge.to_owned(),
        subset,
        n,
        accuracy: wins as f64 / n as f64,
        ci_low: Some(lo),
        ci_high: Some(hi),
    }
}

/// Wilson score interval for `k` successes in `n` trials at 95%.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    use statrs::distribution::{ContinuousCDF, Normal};
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let z = Normal::standard().inverse_cdf(0.975);
    let (n, p) = (n as f64, k as f64 / n as f64);
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z * z / n;
    ((centre - half) / denom, (centre + half) / denom)
}

/// Cohen's kappa of two label sequences (labels −1, 0, +1): NaN when chance agreement is 1.
pub fn cohen_kappa(a: &[i8], b: &[i8]) -> (f64, f64) {
    let n = a.len() as f64;
    let po = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n;
    let share = |v: &[i8], label: i8| v.iter().filter(|&&x| x == label).count() as f64 / n;
    let pe: f64 = [-1i8, 0, 1].iter().map(|&l| share(a, l) * share(b, l)).sum();
    let kappa = if pe < 1.0 { (po - pe) / (1.0 - pe) } else { f64::NAN };
    (po, kappa)
}

/// Wilson intervals per judge and agreement between every two judges of a task.
pub fn judges_and_agreement(task: &TaskDef, records: &[&JobRecord]) -> (Vec<JudgeRow>, Vec<AgreementRow>) {
    let mut judges: Vec<(String, Vec<i8>)> = Vec::new();
    for r in records {
        for (id, per_token) in variants(r) {
            judges.push((id, outcomes(r, per_token)));
        }
    }
    let rows = judges
        .iter()
        .map(|(id, o)| {
            let wins = o.iter().filter(|&&x| x == 1).count();
            let ties = o.iter().filter(|&&x| x == 0).count();
            let (lo, hi) = wilson(wins, o.len());
            JudgeRow {
                task: task.id.clone(),
                judge: id.clone(),
                n: o.len(),
                wins,
                ties,
                losses: o.len() - wins - ties,
                accuracy: wins as f64 / o.len() as f64,
                wilson_low: lo,
                wilson_high: hi,
            }
        })
        .collect();
    let mut agreement = Vec::new();
    for i in 0..judges.len() {
        for j in i + 1..judges.len() {
            if judges[i].1.len() != judges[j].1.len() {
                continue;
            }
            let (po, kappa) = cohen_kappa(&judges[i].1, &judges[j].1);
            agreement.push(AgreementRow {
                task: task.id.clone(),
                judge_a: judges[i].0.clone(),
                judge_b: judges[j].0.clone(),
                n: judges[i].1.len(),
                agreement: po,
                kappa,
            });
        }
    }
    (rows, agreement)
}

fn clip(s: &str, max: usize, from_end: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_owned();
    }
    if from_end {
        format!("…{}", chars[chars.len() - max..].iter().collect::<String>())
    } else {
        format!("{}…", chars[..max].iter().collect::<String>())
    }
}

/// Per-subset accuracy (when pairs carry subsets) and up to `limit` pairs where the judge with
/// the best strict accuracy prefers the rejected response.
pub fn subsets_and_disagreements(
    task: &TaskDef,
    records: &[&JobRecord],
    pairs: &[Pair],
    limit: usize,
) -> (Vec<SubsetRow>, Vec<Disagreement>) {
    let by_line: std::collections::HashMap<String, &Pair> = pairs.iter().map(|p| (p.line.to_string(), p)).collect();
    let mut subsets = Vec::new();
    let mut best: Option<(f64, String, &JobRecord, bool)> = None;
    for r in records {
        for (judge, per_token) in variants(r) {
            let o = outcomes(r, per_token);
            let acc = o.iter().filter(|&&x| x == 1).count() as f64 / o.len().max(1) as f64;
            if best.as_ref().is_none_or(|b| acc > b.0) {
                best = Some((acc, judge.clone(), r, per_token));
            }
            let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for (item, &x) in r.items.iter().zip(&o) {
                if let Some(s) = by_line.get(&item.id).and_then(|p| p.subset.clone()) {
                    let e = per.entry(s).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += (x == 1) as usize;
                }
            }
            subsets.extend(per.into_iter().map(|(subset, (n, wins))| subset_row(task, &judge, subset, n, wins)));
        }
    }
    let mut disagreements = Vec::new();
    if let Some((_, judge, r, per_token)) = best {
        for (item, x) in r.items.iter().zip(outcomes(r, per_token)) {
            if disagreements.len() >= limit {
                break;
            }
            if let (-1, Some(p)) = (x, by_line.get(&item.id)) {
                disagreements.push(Disagreement {
                    task: task.id.clone(),
                    judge: judge.clone(),
                    line: p.line,
                    prompt_tail: clip(&p.prompt, 300, true),
                    chosen: clip(&p.chosen, 600, false),
                    rejected: clip(&p.rejected, 600, false),
                });
            }
        }
    }
    (subsets, disagreements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_and_kappa_known_values() {
        // Wilson 95% for 7/10: (0.3968, 0.8922) (standard tables).
        let (lo, hi) = wilson(7, 10);
        assert!((lo - 0.396_781).abs() < 1e-5 && (hi - 0.892_209).abs() < 1e-5, "{lo} {hi}");
        let a = [1, 1, -1, -1, 1, 0, 1, -1];
        let b = [1, -1, -1, -1, 1, 0, -1, -1];
        let (po, k) = cohen_kappa(&a, &b);
        assert!((po - 0.75).abs() < 1e-12);
        // pe = (3/8)(5/8)... computed by hand: pa = {+1: 4/8, 0: 1/8, -1: 3/8}, pb = {+1: 2/8, 0: 1/8, -1: 5/8}.
        let pe = 0.5 * 0.25 + 0.125 * 0.125 + 0.375 * 0.625;
        assert!((k - (0.75 - pe) / (1.0 - pe)).abs() < 1e-12);
    }
}
