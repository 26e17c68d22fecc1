//! The rows of a long-layout ratings file as JSON records, whatever the file type: JSON Lines as
//! written; CSV and Parquet with every cell as text (an empty or null cell as null), so that the
//! ratings reader checks fields one way and names `file:line` (CSV, JSONL) or `file: row N`
//! (Parquet) in every message.

use std::path::Path;

use polars::prelude::*;

use super::jsonl::{self, Record};

/// Every row of `path`; `textual` says whether numbers arrive as text (CSV, Parquet).
pub struct Rows {
    pub rows: Vec<Record>,
    pub textual: bool,
}

pub fn rows(path: &Path) -> Result<Rows, String> {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".csv") {
        return csv_rows(path).map(|rows| Rows { rows, textual: true });
    }
    if name.ends_with(".parquet") {
        return parquet_rows(path).map(|rows| Rows { rows, textual: true });
    }
    jsonl::read(path, None, None, Ok).map(|rows| Rows { rows, textual: false })
}

fn cell(value: Option<&str>) -> serde_json::Value {
    match value {
        None | Some("") => serde_json::Value::Null,
        Some(s) => serde_json::Value::String(s.to_owned()),
    }
}

fn csv_rows(path: &Path) -> Result<Vec<Record>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.iter().map(str::to_owned).collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => format!("{}:{}: {e}", path.display(), p.line()),
            None => format!("{}: {e}", path.display()),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let value: serde_json::Map<String, serde_json::Value> =
            header.iter().zip(record.iter()).map(|(k, v)| (k.clone(), cell(Some(v)))).collect();
        out.push(Record { id: line.to_string(), at: format!("{}:{line}", path.display()), value: value.into() });
    }
    if out.is_empty() {
        return Err(format!("{}: no rows", path.display()));
    }
    Ok(out)
}

fn parquet_rows(path: &Path) -> Result<Vec<Record>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let df = ParquetReader::new(file).finish().map_err(|e| format!("{}: cannot read Parquet: {e}", path.display()))?;
    let mut columns = Vec::new();
    for c in df.columns() {
        let text = c.cast(&DataType::String).map_err(|e| format!("{}: column {:?}: {e}", path.display(), c.name()))?;
        columns.push((c.name().to_string(), text));
    }
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let mut value = serde_json::Map::new();
        for (name, col) in &columns {
            let s = col.str().map_err(|e| format!("{}: column {name:?}: {e}", path.display()))?;
            value.insert(name.clone(), cell(s.get(row)));
        }
        out.push(Record {
            id: (row + 1).to_string(),
            at: format!("{}: row {}", path.display(), row + 1),
            value: value.into(),
        });
    }
    if out.is_empty() {
        return Err(format!("{}: no rows", path.display()));
    }
    Ok(out)
}
