//! The smaller tables of a run folder, each a typed row: `pairwise.csv` (paired significance
//! between systems), `judges.csv` and `agreement.csv` (preference judges), `subsets.csv` and
//! `subsets.json`, `disagreements.json` and `generations.json`. Written and read with the `csv`
//! crate (or polars, for `pairwise.csv`, whose float format results.csv shares) and serde, so a
//! short or edited row is an error naming its line, never a report that indexes past a row.

use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::format::{from_spreadsheet_cell, spreadsheet_cell};
use super::jobs::{read_if_present, write_atomic};
use super::polars_err;
use crate::error::Error;

/// One pairwise comparison: `model_b` against `model_a` as the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairwiseRow {
    pub task: String,
    pub metric: String,
    pub model_a: String,
    pub model_b: String,
    pub value_a: f64,
    pub value_b: f64,
    pub p_value: f64,
    pub test: String,
}

/// Per judge: counts and the Wilson 95% interval of strict accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeRow {
    pub task: String,
    pub judge: String,
    pub n: usize,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
    pub accuracy: f64,
    pub wilson_low: f64,
    pub wilson_high: f64,
}

/// Agreement of two judges on the same pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementRow {
    pub task: String,
    pub judge_a: String,
    pub judge_b: String,
    pub n: usize,
    pub agreement: f64,
    pub kappa: f64,
}

/// Accuracy of a judge on one subset of the pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetRow {
    pub task: String,
    pub judge: String,
    pub subset: String,
    pub n: usize,
    pub accuracy: f64,
    /// Wilson 95% interval of the accuracy (none for published numbers, or in runs written
    /// before intervals were kept).
    #[serde(default)]
    pub ci_low: Option<f64>,
    #[serde(default)]
    pub ci_high: Option<f64>,
}

/// A pair the most accurate judge decides against the human choice, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub task: String,
    pub judge: String,
    pub line: usize,
    pub prompt_tail: String,
    pub chosen: String,
    pub rejected: String,
}

/// (model, output, per-item scores of the task's metrics).
pub type ModelOutput = (String, String, Vec<(String, f64)>);

/// One item of a generation task as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerationRow {
    pub task: String,
    pub item: String,
    pub prompt: String,
    pub references: Vec<String>,
    /// (model, output, per-item scores of the task's metrics).
    pub outputs: Vec<ModelOutput>,
}

/// Writes `pairwise.csv`: every paired significance test between two models of a task. Text
/// cells are spreadsheet-safe ([`spreadsheet_cell`]), as in every CSV file of a run.
pub fn write_pairwise_csv(rows: &[PairwiseRow], path: &Path) -> Result<(), Error> {
    let text =
        |f: fn(&PairwiseRow) -> &str| rows.iter().map(|r| spreadsheet_cell(f(r)).into_owned()).collect::<Vec<_>>();
    let mut df = df!(
        "task" => text(|r| &r.task),
        "metric" => text(|r| &r.metric),
        "model_a" => text(|r| &r.model_a),
        "model_b" => text(|r| &r.model_b),
        "value_a" => rows.iter().map(|r| r.value_a).collect::<Vec<_>>(),
        "value_b" => rows.iter().map(|r| r.value_b).collect::<Vec<_>>(),
        "p_value" => rows.iter().map(|r| r.p_value).collect::<Vec<_>>(),
        "test" => text(|r| &r.test),
    )
    .map_err(|e| polars_err(path, e))?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).include_header(true).finish(&mut df).map_err(|e| polars_err(path, e))?;
    crate::store::jobs::write_atomic(path, &buf)
}

/// Reads `pairwise.csv` back (empty when the run has none).
pub fn read_pairwise_csv(path: &Path) -> Result<Vec<PairwiseRow>, Error> {
    let rows: Vec<PairwiseRow> = read_csv(path)?;
    Ok(rows
        .into_iter()
        .map(|r| PairwiseRow {
            task: from_spreadsheet_cell(r.task),
            metric: from_spreadsheet_cell(r.metric),
            model_a: from_spreadsheet_cell(r.model_a),
            model_b: from_spreadsheet_cell(r.model_b),
            test: from_spreadsheet_cell(r.test),
            ..r
        })
        .collect())
}

/// Typed rows of one of the run's CSV files (empty when the file is absent); a row that does not
/// fit the type is an error naming the file and line.
fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, Error> {
    let Some(bytes) = read_if_present(path)? else { return Ok(Vec::new()) };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes.as_slice());
    let mut out = Vec::new();
    for row in reader.deserialize() {
        out.push(row.map_err(|e| csv_error(path, &e))?);
    }
    Ok(out)
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let what = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => e.to_string(),
    };
    Error::Usage(format!("{}:{line}: {what}", path.display()))
}

/// Writes `judges.csv` (per judge: counts, strict accuracy and its Wilson interval) and
/// `agreement.csv` (raw agreement and Cohen's kappa of every two judges) for preference tasks.
/// Rates keep ten decimals, so equal runs write equal bytes.
pub fn write_judges_csv(judges: &[JudgeRow], agreement: &[AgreementRow], run_dir: &Path) -> Result<(), Error> {
    let fixed = |v: f64| format!("{v:.10}");
    let mut j = csv_writer();
    j.write_record(["task", "judge", "n", "wins", "ties", "losses", "accuracy", "wilson_low", "wilson_high"])
        .expect("in memory");
    for r in judges {
        let (n, w, t, l) = (r.n.to_string(), r.wins.to_string(), r.ties.to_string(), r.losses.to_string());
        j.write_record([
            &*spreadsheet_cell(&r.task),
            &*spreadsheet_cell(&r.judge),
            &n,
            &w,
            &t,
            &l,
            &fixed(r.accuracy),
            &fixed(r.wilson_low),
            &fixed(r.wilson_high),
        ])
        .expect("in memory");
    }
    write_atomic(&run_dir.join("judges.csv"), &j.into_inner().expect("in memory"))?;
    let mut a = csv_writer();
    a.write_record(["task", "judge_a", "judge_b", "n", "agreement", "kappa"]).expect("in memory");
    for r in agreement {
        a.write_record([
            &*spreadsheet_cell(&r.task),
            &*spreadsheet_cell(&r.judge_a),
            &*spreadsheet_cell(&r.judge_b),
            &r.n.to_string(),
            &fixed(r.agreement),
            &fixed(r.kappa),
        ])
        .expect("in memory");
    }
    write_atomic(&run_dir.join("agreement.csv"), &a.into_inner().expect("in memory"))
}

/// `judges.csv` and `agreement.csv` of a run (empty when it has no preference task).
pub fn read_judges_csv(run_dir: &Path) -> Result<(Vec<JudgeRow>, Vec<AgreementRow>), Error> {
    let judges: Vec<JudgeRow> = read_csv(&run_dir.join("judges.csv"))?;
    let agreement: Vec<AgreementRow> = read_csv(&run_dir.join("agreement.csv"))?;
    let judges = judges.into_iter().map(|r| JudgeRow {
        task: from_spreadsheet_cell(r.task),
        judge: from_spreadsheet_cell(r.judge),
        ..r
    });
    let agreement = agreement.into_iter().map(|r| AgreementRow {
        task: from_spreadsheet_cell(r.task),
        judge_a: from_spreadsheet_cell(r.judge_a),
        judge_b: from_spreadsheet_cell(r.judge_b),
        ..r
    });
    Ok((judges.collect(), agreement.collect()))
}

/// Writes `subsets.csv` and `subsets.json` (per-subset accuracy of every judge) and
/// `disagreements.json`.
pub fn write_subsets(subsets: &[SubsetRow], disagreements: &[Disagreement], run_dir: &Path) -> Result<(), Error> {
    let mut w = csv_writer();
    for s in subsets {
        let safe = SubsetRow {
            task: spreadsheet_cell(&s.task).into_owned(),
            judge: spreadsheet_cell(&s.judge).into_owned(),
            subset: spreadsheet_cell(&s.subset).into_owned(),
            ..s.clone()
        };
        w.serialize(&safe).map_err(|e| Error::Usage(format!("subsets.csv: {e}")))?;
    }
    if subsets.is_empty() {
        w.write_record(["task", "judge", "subset", "n", "accuracy", "ci_low", "ci_high"]).expect("in memory");
    }
    write_atomic(&run_dir.join("subsets.csv"), &w.into_inner().expect("in memory"))?;
    write_json(&run_dir.join("subsets.json"), subsets)?;
    write_json(&run_dir.join("disagreements.json"), disagreements)
}

/// Writes a list as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), Error> {
    write_atomic(path, &serde_json::to_vec_pretty(rows).expect("serializable"))
}

/// A JSON list the run wrote (empty when absent); an unreadable one is an error naming it.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, Error> {
    match read_if_present(path)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| Error::Usage(format!("{}: {e}", path.display()))),
        None => Ok(Vec::new()),
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}

/// A judge's agreement with people on one human dimension, at one level, by one statistic
/// (`human-agreement.csv`): its value, bootstrap interval and rank among the task's judges, and
/// whether a paired permutation test (PERM-BOTH, Holm-corrected over the comparisons with the
/// best judge) separates it from the best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanAgreementRow {
    pub task: String,
    pub judge: String,
    pub dimension: String,
    pub level: String,
    pub statistic: String,
    #[serde(with = "super::undefined")]
    pub value: f64,
    #[serde(with = "super::undefined")]
    pub ci_low: f64,
    #[serde(with = "super::undefined")]
    pub ci_high: f64,
    /// Outputs (segment level), items (item level), systems (system level) or pairs (daRR).
    pub n: usize,
    /// 1 for the best; judges whose statistic is undefined are not ranked (0).
    pub rank: usize,
    /// Holm-adjusted p of "the best judge agrees more than this one"; NaN for the best itself.
    #[serde(with = "super::undefined")]
    pub p_vs_best: f64,
    /// Not separable from the best (adjusted p ≥ 0.05), or the best itself.
    pub tied_with_best: bool,
}

/// One system at the system level: people's mean score and a judge's system score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemPoint {
    pub task: String,
    pub judge: String,
    pub dimension: String,
    pub system: String,
    #[serde(with = "super::undefined")]
    pub human: f64,
    #[serde(with = "super::undefined")]
    pub score: f64,
}

/// Writes `human-agreement.csv` and `human-systems.json`.
pub fn write_human_agreement(rows: &[HumanAgreementRow], points: &[SystemPoint], run_dir: &Path) -> Result<(), Error> {
    let mut w = csv_writer();
    for r in rows {
        let safe = HumanAgreementRow {
            task: spreadsheet_cell(&r.task).into_owned(),
            judge: spreadsheet_cell(&r.judge).into_owned(),
            dimension: spreadsheet_cell(&r.dimension).into_owned(),
            ..r.clone()
        };
        w.serialize(&safe).map_err(|e| Error::Usage(format!("human-agreement.csv: {e}")))?;
    }
    write_atomic(&run_dir.join("human-agreement.csv"), &w.into_inner().expect("in memory"))?;
    write_json(&run_dir.join("human-systems.json"), points)
}

/// `human-agreement.csv` and `human-systems.json` of a run (empty when it has no such task).
pub fn read_human_agreement(run_dir: &Path) -> Result<(Vec<HumanAgreementRow>, Vec<SystemPoint>), Error> {
    let rows: Vec<HumanAgreementRow> = read_csv(&run_dir.join("human-agreement.csv"))?;
    let rows = rows
        .into_iter()
        .map(|r| HumanAgreementRow {
            task: from_spreadsheet_cell(r.task),
            judge: from_spreadsheet_cell(r.judge),
            dimension: from_spreadsheet_cell(r.dimension),
            ..r
        })
        .collect();
    Ok((rows, read_json(&run_dir.join("human-systems.json"))?))
}

/// The tables one task writes beside its result rows; the engine gathers every task's and writes
/// each file once.
#[derive(Debug, Clone, Default)]
pub struct TaskTables {
    pub pairwise: Vec<PairwiseRow>,
    pub judges: Vec<JudgeRow>,
    pub agreement: Vec<AgreementRow>,
    pub subsets: Vec<SubsetRow>,
    pub disagreements: Vec<Disagreement>,
    pub generations: Vec<GenerationRow>,
    pub human: Vec<HumanAgreementRow>,
    pub systems: Vec<SystemPoint>,
}

impl TaskTables {
    pub fn extend(&mut self, other: TaskTables) {
        self.human.extend(other.human);
        self.systems.extend(other.systems);
        self.pairwise.extend(other.pairwise);
        self.judges.extend(other.judges);
        self.agreement.extend(other.agreement);
        self.subsets.extend(other.subsets);
        self.disagreements.extend(other.disagreements);
        self.generations.extend(other.generations);
    }
}
