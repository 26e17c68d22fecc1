//! Minimal pairs (BLiMP; Warstadt et al., 2020): each item is a grammatical and an ungrammatical
//! sentence that differ minimally, and a model is right when it gives the good sentence the
//! strictly higher log-likelihood. All three families answer on the same scale: an n-gram model
//! scores a sentence with `<s>` and `</s>` (KenLM's `score(s, bos=True, eos=True)`, in natural
//! log), a causal LM sums the log-probabilities of all its tokens after the start token
//! (lm-evaluation-harness's `loglikelihood` with an empty context), a masked LM sums its
//! pseudo-log-likelihoods (Salazar et al., 2020).
//!
//! Each item is stored as a judged pair (the good sentence is the chosen one), so accuracy and tie
//! rate, their intervals and the gate come from the same statistics as preference tasks'.
//! Accuracy per group (phenomenon `UID`, `linguistics_term`, `field`) goes to `subsets`, and
//! every two models are compared on the same pairs by McNemar's exact test, Holm-corrected over
//! all pairs of models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use super::preference::{metric_stats, outcomes, preference_rows, subset_row};
use super::{Check, JobContext, JobOutput, Task, TaskType};
use crate::metrics::Metric;
use crate::metrics::mcnemar::{holm, mcnemar_exact};
use crate::metrics::stats::ItemStats;
use crate::models::Capability;
use crate::store::ResultRow;
use crate::store::jobs::{ItemScore, JobRecord};
use crate::store::scores::{PreferenceScores, Scores};
use crate::store::tables::{PairwiseRow, SubsetRow, TaskTables};
use crate::suite::{ModelDef, TaskDef};

/// Sentences scored per call: neural models batch within a chunk, and progress moves per chunk.
const CHUNK: usize = 512;

/// `type: minimal-pairs`.
pub struct MinimalPairsType;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The field holding the acceptable sentence (default `sentence_good`).
    #[serde(default)]
    pub good_field: Option<String>,
    /// The field holding the unacceptable one (default `sentence_bad`).
    #[serde(default)]
    pub bad_field: Option<String>,
    /// Fields whose values group the pairs for per-group accuracy (default `UID`,
    /// `linguistics_term`, `field`: BLiMP's phenomenon, term and field).
    #[serde(default)]
    pub group_fields: Option<Vec<String>>,
    /// Use only the first N pairs of each file (a slice of every phenomenon).
    #[serde(default)]
    pub per_file: Option<usize>,
    /// Published per-group accuracies shown beside the models that ran (not run here): BLiMP's
    /// `paper-results.jsonl` (one record per phenomenon `UID`, or per `linguistics_term` with
    /// `UID: overall`, and one number per model) or `human-validation.csv` (`Condition`,
    /// `total_mean`). Relative to the suite file.
    #[serde(default)]
    pub published: Vec<PathBuf>,
}

impl TaskType for MinimalPairsType {
    const NAME: &'static str = "minimal-pairs";
    const METRICS: &'static [Metric] = &[Metric::Accuracy, Metric::TieRate];
    const NEEDS: &'static [Capability] = &[Capability::ScoreTokens, Capability::PseudoLogLikelihood];
    const READS_FOLDERS: bool = true;
    type Options = Options;

    fn build<'a>(def: &'a TaskDef, o: Options, check: &mut Check) -> Box<dyn Task + 'a> {
        check.at_least_one("per_file", o.per_file);
        let mut published = Vec::new();
        for (i, path) in o.published.iter().enumerate() {
            match super::published::read(&check.base.join(path)) {
                Ok(rows) => published.extend(rows),
                Err(e) => check.problem(&format!("published[{i}]"), e),
            }
        }
        let layout = Layout {
            good: o.good_field.unwrap_or_else(|| "sentence_good".into()),
            bad: o.bad_field.unwrap_or_else(|| "sentence_bad".into()),
            groups: o.group_fields.unwrap_or_else(|| vec!["UID".into(), "linguistics_term".into(), "field".into()]),
            per_file: o.per_file,
        };
        Box::new(MinimalPairs { def, layout, published, pairs: OnceLock::new() })
    }
}

/// Where a pair's sentences and groups are in a record.
#[derive(Debug, Clone)]
struct Layout {
    good: String,
    bad: String,
    groups: Vec<String>,
    per_file: Option<usize>,
}

/// One pair, with where it came from.
#[derive(Debug, Clone)]
pub struct MinimalPair {
    /// `file-stem:line`, unique across the files of a folder.
    pub id: String,
    pub good: String,
    pub bad: String,
    /// One value per group field.
    pub groups: Vec<String>,
}

pub struct MinimalPairs<'a> {
    def: &'a TaskDef,
    layout: Layout,
    /// Published accuracies: (source, group field, group, accuracy).
    published: Vec<super::published::Published>,
    pairs: OnceLock<Result<Vec<MinimalPair>, String>>,
}

impl MinimalPairs<'_> {
    fn pairs(&self) -> &Result<Vec<MinimalPair>, String> {
        self.pairs.get_or_init(|| read_pairs(&self.def.dataset.path, &self.layout, self.def.dataset.limit))
    }
}

impl Task for MinimalPairs<'_> {
    fn def(&self) -> &TaskDef {
        self.def
    }

    fn run(&self, model: &ModelDef, ctx: &dyn JobContext) -> JobOutput {
        let (pairs, lm) = match (self.pairs(), ctx.model()) {
            (Ok(p), Ok(lm)) => (p, lm),
            (Err(e), _) => return JobOutput::failed(e.clone()),
            (_, Err(e)) => return JobOutput::failed(e),
        };
        ctx.progress_start(pairs.len() as u64);
        let mut items = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(CHUNK / 2) {
            let texts: Vec<&str> = chunk.iter().flat_map(|p| [p.good.as_str(), p.bad.as_str()]).collect();
            let scores = match lm.likelihoods(&texts) {
                Ok(s) => s,
                Err(e) => {
                    let span = format!("pairs {}–{}", chunk[0].id, chunk[chunk.len() - 1].id);
                    return JobOutput::failed(format!("{span}: {e}"));
                }
            };
            for (p, two) in chunk.iter().zip(scores.chunks(2)) {
                for (s, which) in two.iter().zip(["good", "bad"]) {
                    if let Err(e) = s.check_finite(&model.id, &format!("the {which} sentence of pair {}", p.id)) {
                        return JobOutput::failed(e);
                    }
                }
                let judged = PreferenceScores {
                    chosen: two[0].sentence_total(),
                    rejected: two[1].sentence_total(),
                    per_token: None,
                    len_chosen: p.good.chars().count() as f64,
                    len_rejected: p.bad.chars().count() as f64,
                };
                items.push(ItemScore { id: p.id.clone(), scores: Scores::Preference(judged), output: None });
            }
            ctx.progress_advance(chunk.len() as u64);
        }
        JobOutput { items: Ok(items), description: lm.describe(), notes: Vec::new() }
    }

    fn aggregate(&self, record: &JobRecord, seed: u64, resamples: usize) -> Vec<ResultRow> {
        preference_rows(self.def, record, seed, resamples)
    }

    fn item_stats(&self, metric: Metric, record: &JobRecord, _judge: &str) -> ItemStats<'_> {
        metric_stats(metric, record, false)
    }

    fn tables(&self, records: &[&JobRecord], _seed: u64) -> TaskTables {
        let right: Vec<Vec<bool>> =
            records.iter().map(|r| outcomes(r, false).iter().map(|&x| x == 1).collect()).collect();
        let mut subsets = match self.pairs() {
            Ok(pairs) => {
                let groups = pairs.iter().map(|p| (p.id.as_str(), p.groups.as_slice())).collect();
                group_accuracy(self.def, &self.layout.groups, records, &right, &groups)
            }
            Err(_) => Vec::new(),
        };
        if let Some(first) = self.layout.groups.first() {
            subsets.extend(overall_rows(self.def, first, records, &subsets));
        }
        // Published numbers for the groups this run has, labelled as not run here.
        if !records.is_empty() {
            for p in &self.published {
                let subset = format!("{}={}", p.field, p.group);
                if let Some(n) = subsets.iter().find(|s| s.subset == subset).map(|s| s.n) {
                    subsets.push(SubsetRow {
                        task: self.def.id.clone(),
                        judge: format!("{} (published)", p.source),
                        subset,
                        n,
                        accuracy: p.accuracy,
                        ci_low: None,
                        ci_high: None,
                    });
                }
            }
        }
        let pairwise = mcnemar_table(self.def, Metric::Accuracy, records, &right);
        TaskTables { subsets, pairwise, ..TaskTables::default() }
    }
}

/// Accuracy of every model on every value of every group field (`field=value`), in the order
/// the values first appear. `right[r][i]`: whether record `r` got its item `i` right; `groups`
/// gives each item id its values, one per field.
pub(super) fn group_accuracy(
    task: &TaskDef,
    fields: &[String],
    records: &[&JobRecord],
    right: &[Vec<bool>],
    groups: &BTreeMap<&str, &[String]>,
) -> Vec<SubsetRow> {
    let mut out = Vec::new();
    for (r, right) in records.iter().zip(right) {
        for (g, field) in fields.iter().enumerate() {
            let mut order: Vec<&str> = Vec::new();
            let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for (item, &x) in r.items.iter().zip(right) {
                let Some(values) = groups.get(item.id.as_str()) else { continue };
                let value = values[g].as_str();
                let e = per.entry(value).or_insert_with(|| {
                    order.push(value);
                    (0, 0)
                });
                e.0 += 1;
                e.1 += x as usize;
            }
            for value in order {
                let (n, wins) = per[value];
                out.push(subset_row(task, &r.model, format!("{field}={value}"), n, wins));
            }
        }
    }
    out
}

/// Each model's overall accuracy two ways, as subsets of field `overall`: over all pairs (with its
/// Wilson interval) and as the mean over the groups of the first group field, BLiMP's phenomena,
/// as the paper reports it (its 95% interval from the groups' binomial variances,
/// `mean ± 1.96 · sqrt(Σ p(1 − p)/n) / groups`).
fn overall_rows(task: &TaskDef, field: &str, records: &[&JobRecord], groups: &[SubsetRow]) -> Vec<SubsetRow> {
    let prefix = format!("{field}=");
    let mut out = Vec::new();
    for r in records {
        let mine: Vec<&SubsetRow> =
            groups.iter().filter(|s| s.judge == r.model && s.subset.starts_with(&prefix)).collect();
        if mine.is_empty() {
            continue;
        }
        let n: usize = mine.iter().map(|s| s.n).sum();
        let wins: usize = mine.iter().map(|s| (s.accuracy * s.n as f64).round() as usize).sum();
        out.push(subset_row(task, &r.model, "overall=all pairs".into(), n, wins));
        let g = mine.len() as f64;
        let mean = mine.iter().map(|s| s.accuracy).sum::<f64>() / g;
        let var: f64 = mine.iter().map(|s| s.accuracy * (1.0 - s.accuracy) / s.n as f64).sum::<f64>() / (g * g);
        let half = 1.959963984540054 * var.sqrt();
        out.push(SubsetRow {
            task: task.id.clone(),
            judge: r.model.clone(),
            subset: format!("overall=mean over {field}"),
            n,
            accuracy: mean,
            ci_low: Some((mean - half).max(0.0)),
            ci_high: Some((mean + half).min(1.0)),
        });
    }
    out
}

/// McNemar's exact test of `metric` between every two models on the items both scored (the
/// same ids in the same order), Holm-corrected over all of them. `right` as for
/// [`group_accuracy`].
pub(super) fn mcnemar_table(
    task: &TaskDef,
    metric: Metric,
    records: &[&JobRecord],
    right: &[Vec<bool>],
) -> Vec<PairwiseRow> {
    let accuracy = |v: &[bool]| v.iter().filter(|&&x| x).count() as f64 / v.len().max(1) as f64;
    let mut rows = Vec::new();
    for a in 0..records.len() {
        for b in a + 1..records.len() {
            let aligned = records[a].items.len() == records[b].items.len()
                && records[a].items.iter().zip(&records[b].items).all(|(x, y)| x.id == y.id);
            if !aligned {
                continue;
            }
            let only_a = right[a].iter().zip(&right[b]).filter(|(x, y)| **x && !**y).count() as u64;
            let only_b = right[a].iter().zip(&right[b]).filter(|(x, y)| !**x && **y).count() as u64;
            rows.push(PairwiseRow {
                task: task.id.clone(),
                metric: metric.name().into(),
                model_a: records[a].model.clone(),
                model_b: records[b].model.clone(),
                value_a: accuracy(&right[a]),
                value_b: accuracy(&right[b]),
                p_value: mcnemar_exact(only_a, only_b),
                test: "mcnemar-exact-holm".into(),
            });
        }
    }
    let adjusted = holm(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
    for (r, p) in rows.iter_mut().zip(adjusted) {
        r.p_value = p;
    }
    rows
}

/// Reads every pair; an empty sentence, a missing field or a malformed line is an error naming
/// the file, the line and the field.
fn read_pairs(path: &Path, layout: &Layout, limit: Option<usize>) -> Result<Vec<MinimalPair>, String> {
    super::jsonl::read(path, layout.per_file, limit, |r| {
        let groups = layout.groups.iter().map(|g| r.label(g)).collect::<Result<_, _>>()?;
        Ok(MinimalPair { good: r.text(&layout.good, false)?, bad: r.text(&layout.bad, false)?, groups, id: r.id })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BLiMP's field names.
    fn blimp() -> Layout {
        Layout { good: "sentence_good".into(), bad: "sentence_bad".into(), groups: vec!["UID".into()], per_file: None }
    }

    #[test]
    fn pairs_are_read_with_their_place_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.jsonl", "{\"sentence_good\": \"Dogs bark.\", \"sentence_bad\": \"Dogs barks.\", \"UID\": \"agr\"}\n");
        write("b.jsonl", "{\"sentence_good\": \"x\", \"sentence_bad\": \"\", \"UID\": \"b\"}\n");
        let layout = blimp();
        let e = read_pairs(dir.path(), &layout, None).unwrap_err();
        assert!(e.contains("b.jsonl:1") && e.contains("\"sentence_bad\" is empty"), "{e}");
        let p = read_pairs(&dir.path().join("a.jsonl"), &layout, None).unwrap();
        assert_eq!((p[0].id.as_str(), p[0].groups[0].as_str()), ("a:1", "agr"));
        write("n.jsonl", "{\"sentence_good\": 5, \"sentence_bad\": \"x\", \"UID\": \"n\"}\n");
        let e = read_pairs(&dir.path().join("n.jsonl"), &layout, None).unwrap_err();
        assert!(e.contains("n.jsonl:1: field \"sentence_good\" must be text"), "{e}");
        let other = Layout { good: "good".into(), ..layout };
        let e = read_pairs(&dir.path().join("a.jsonl"), &other, None).unwrap_err();
        assert!(e.contains("a.jsonl:1: field \"good\" is missing"), "{e}");
    }

    #[test]
    fn two_files_of_one_stem_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let line = "{\"sentence_good\": \"Dogs bark.\", \"sentence_bad\": \"Dogs barks.\", \"UID\": \"agr\"}\n";
        std::fs::write(dir.path().join("a.jsonl"), line).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, line.as_bytes()).unwrap();
        std::fs::write(dir.path().join("a.jsonl.gz"), gz.finish().unwrap()).unwrap();
        let layout = blimp();
        let e = read_pairs(dir.path(), &layout, None).unwrap_err();
        assert!(e.contains("a.jsonl and a.jsonl.gz") && e.contains("a:1"), "{e}");
    }
}
