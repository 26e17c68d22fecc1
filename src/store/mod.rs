//! What a run leaves on disk: `results.csv` (aggregates), `items.parquet` (per-item scores) and
//! `run.json` (the manifest), written with polars and serde; and reading them back, so reports
//! can be re-rendered from the stored files alone.

pub mod format;
pub mod gate;
pub mod history;
pub mod jobs;
pub mod lock;
pub mod manifest;
pub mod scores;
pub mod tables;

use std::path::Path;

use polars::prelude::*;

pub use manifest::{HostInfo, JobSummary, MANIFEST_VERSION, RunManifest};

use crate::error::Error;
use crate::store::jobs::JobRecord;

/// One aggregate: a metric of a model on a task (also a baseline's entry). An undefined value
/// (a correlation over two items, an interval of one item) is NaN in memory, `NaN` in
/// results.csv and `null` in JSON, and every reader takes it back as NaN ([`undefined`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultRow {
    pub task: String,
    pub model: String,
    pub metric: String,
    #[serde(with = "undefined")]
    pub value: f64,
    #[serde(with = "undefined")]
    pub ci_low: f64,
    #[serde(with = "undefined")]
    pub ci_high: f64,
    pub n: u64,
    pub higher_is_better: bool,
}

/// The one JSON form of an undefined number: `null` written for NaN, and read back as NaN. (A
/// baseline whose undefined correlation was written as `null` could not be loaded by any gate.)
/// ±∞ is not a measurement and never reaches JSON: `baseline save` and `gate` refuse it first.
pub mod undefined {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() { s.serialize_none() } else { s.serialize_f64(*v) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Refuses a row holding ±∞ (an overflowed perplexity, a hand-edited file): no verdict or
/// baseline may be drawn from it. `file` names where the row was read.
pub fn check_finite_or_undefined(file: &Path, row: &ResultRow) -> Result<(), Error> {
    for (field, v) in [("value", row.value), ("ci_low", row.ci_low), ("ci_high", row.ci_high)] {
        if v.is_infinite() {
            return Err(Error::Usage(format!(
                "{}: {field} of {} of {} on {} is {v}: not a measurement (undefined values are NaN / null, never infinite)",
                file.display(),
                row.metric,
                row.model,
                row.task
            )));
        }
    }
    Ok(())
}

pub(crate) fn polars_err(path: &Path, e: PolarsError) -> Error {
    Error::Usage(format!("{}: {e}", path.display()))
}

/// Writes `results.csv` with a fixed column order and float formatting, so equal results give
/// byte-identical files; text cells are spreadsheet-safe ([`format::spreadsheet_cell`]).
pub fn write_results_csv(rows: &[ResultRow], path: &Path) -> Result<(), Error> {
    let text = |f: fn(&ResultRow) -> &str| {
        rows.iter().map(|r| format::spreadsheet_cell(f(r)).into_owned()).collect::<Vec<_>>()
    };
    let mut df = df!(
        "task" => text(|r| &r.task),
        "model" => text(|r| &r.model),
        "metric" => text(|r| &r.metric),
        "value" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "ci_low" => rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        "ci_high" => rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
        "n" => rows.iter().map(|r| r.n).collect::<Vec<_>>(),
        "higher_is_better" => rows.iter().map(|r| r.higher_is_better).collect::<Vec<_>>(),
    )
    .map_err(|e| polars_err(path, e))?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).include_header(true).finish(&mut df).map_err(|e| polars_err(path, e))?;
    crate::store::jobs::write_atomic(path, &buf)
}

/// Reads `results.csv` back.
pub fn read_results_csv(path: &Path) -> Result<Vec<ResultRow>, Error> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .and_then(|r| r.finish())
        .map_err(|e| polars_err(path, e))?;
    let col = |name: &str| df.column(name).map_err(|e| polars_err(path, e));
    let text = |name: &str| -> Result<Vec<String>, Error> {
        let c = col(name)?.cast(&DataType::String).map_err(|e| polars_err(path, e))?;
        let s = c.str().map_err(|e| polars_err(path, e))?;
        Ok((0..s.len()).map(|i| format::from_spreadsheet_cell(s.get(i).unwrap_or("").to_owned())).collect())
    };
    let float = |name: &str| -> Result<Vec<f64>, Error> {
        let c = col(name)?.cast(&DataType::Float64).map_err(|e| polars_err(path, e))?;
        let s = c.f64().map_err(|e| polars_err(path, e))?;
        Ok((0..s.len()).map(|i| s.get(i).unwrap_or(f64::NAN)).collect())
    };
    let (task, model, metric, hib) = (text("task")?, text("model")?, text("metric")?, text("higher_is_better")?);
    let (value, lo, hi, n) = (float("value")?, float("ci_low")?, float("ci_high")?, float("n")?);
    Ok((0..df.height())
        .map(|i| ResultRow {
            task: task[i].clone(),
            model: model[i].clone(),
            metric: metric[i].clone(),
            value: value[i],
            ci_low: lo[i],
            ci_high: hi[i],
            n: n[i] as u64,
            higher_is_better: hib[i] == "true",
        })
        .collect())
}

/// Writes every item's scores in long form: task, model, item (position), item_id, score, value.
pub fn write_items_parquet(records: &[JobRecord], path: &Path) -> Result<(), Error> {
    let (mut task, mut model, mut item, mut item_id, mut score, mut value, mut output) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in records {
        for (i, it) in r.items.iter().enumerate() {
            for (name, v) in &it.scores.to_map() {
                task.push(r.task.as_str());
                model.push(r.model.as_str());
                item.push(i as u32);
                item_id.push(it.id.as_str());
                score.push(name.clone());
                value.push(*v);
                // Generation tasks: what the model wrote, beside each of the item's scores.
                output.push(it.output.as_deref());
            }
        }
    }
    let mut df = df!("task" => task, "model" => model, "item" => item, "item_id" => item_id, "score" => score, "value" => value, "output" => output)
        .map_err(|e| polars_err(path, e))?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).map_err(|e| polars_err(path, e))?;
    crate::store::jobs::write_atomic(path, &buf)
}
