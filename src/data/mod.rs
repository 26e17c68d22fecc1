//! Dataset readers: plain text, JSONL, CSV and Parquet, all producing the same [`Item`]s.
//!
//! Every reader names the file and the line (text, JSONL) or row (CSV, Parquet) of anything it
//! cannot use: invalid UTF-8, a missing or non-string field, an empty dataset. Field mapping says
//! which column holds the text and, optionally, a stable item id.

pub mod atomic;
pub mod lines;
pub mod pairs;
mod table;
mod text;

pub use text::parse_jsonl;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One evaluation item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The id from the dataset's id field, else the item's 1-based position.
    pub id: String,
    pub text: String,
    /// Where the item starts: a 1-based line (text, JSONL) or data row (CSV, Parquet).
    pub line: usize,
}

impl Item {
    /// `FILE:LINE (item ID)`: where the item came from, for messages about it.
    pub fn location(&self, dataset: &Path) -> String {
        format!("{}:{} (item {})", dataset.display(), self.line, self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Jsonl,
    Csv,
    Parquet,
}

/// How plain text divides into items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Each non-blank line is an item.
    #[default]
    Line,
    /// Runs of lines separated by blank (empty or whitespace-only) lines.
    Document,
    /// The whole file is one item.
    File,
}

/// Which fields of a record hold what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    #[serde(default = "default_text_field")]
    pub text: String,
    #[serde(default)]
    pub id: Option<String>,
}

fn default_text_field() -> String {
    "text".to_owned()
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap { text: default_text_field(), id: None }
    }
}

/// A resolved dataset description (paths already absolute or relative to the working directory).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    pub path: PathBuf,
    pub format: Format,
    pub unit: Unit,
    pub fields: FieldMap,
    /// Keep only the first `limit` items.
    pub limit: Option<usize>,
}

impl Format {
    /// Guesses the format from a file extension.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("jsonl") | Some("ndjson") => Format::Jsonl,
            Some("csv") => Format::Csv,
            Some("parquet") => Format::Parquet,
            _ => Format::Text,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: invalid UTF-8", path.display())]
    Utf8 { path: PathBuf, line: usize },
    #[error("{}:{line}: {message}", path.display())]
    Line { path: PathBuf, line: usize, message: String },
    #[error("{}: row {row}: {message}", path.display())]
    Row { path: PathBuf, row: usize, message: String },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{}: the dataset has no items", path.display())]
    Empty { path: PathBuf },
}

/// Reads every item of a dataset.
pub fn load(spec: &DatasetSpec) -> Result<Vec<Item>, DataError> {
    let mut items = match spec.format {
        Format::Text => text::read_text(&spec.path, spec.unit)?,
        Format::Jsonl => text::read_jsonl(&spec.path, &spec.fields)?,
        Format::Csv | Format::Parquet => table::read_table(&spec.path, spec.format, &spec.fields)?,
    };
    if let Some(limit) = spec.limit {
        items.truncate(limit);
    }
    if items.is_empty() {
        return Err(DataError::Empty { path: spec.path.clone() });
    }
    check_unique_ids(&spec.path, &items)?;
    Ok(items)
}

/// Item ids key per-item scores, paired tests and baselines: two items of one id would have
/// one's scores read as the other's. The second of two is refused, naming both places.
fn check_unique_ids(path: &Path, items: &[Item]) -> Result<(), DataError> {
    let mut seen: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for item in items {
        if let Some(first) = seen.insert(&item.id, item.line) {
            return Err(DataError::Line {
                path: path.to_owned(),
                line: item.line,
                message: format!("item id {:?} repeats the id of line {first}; item ids must be unique", item.id),
            });
        }
    }
    Ok(())
}

/// Line-aligned records for reference tasks: each record's text or texts, in file order. Text
/// files give every line (blank lines included: alignment matters); JSONL gives `field`, a string
/// or a list of strings; CSV and Parquet give the `field` column.
pub fn load_aligned(path: &Path, format: Format, field: &str) -> Result<Vec<Vec<String>>, DataError> {
    let read = || std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source });
    let records: Vec<Vec<String>> = match format {
        Format::Text => {
            let bytes = read()?;
            let text = utf8_or_error(path, &bytes)?;
            let body = text.strip_suffix('\n').unwrap_or(text);
            if text.is_empty() {
                Vec::new()
            } else {
                body.split('\n').map(|l| vec![l.strip_suffix('\r').unwrap_or(l).to_owned()]).collect()
            }
        }
        Format::Jsonl => {
            let bytes = read()?;
            let mut out = Vec::new();
            for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
                let err = |message: String| DataError::Line { path: path.to_owned(), line: i + 1, message };
                let line =
                    std::str::from_utf8(raw).map_err(|_| DataError::Utf8 { path: path.to_owned(), line: i + 1 })?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
                out.push(match v.get(field) {
                    Some(serde_json::Value::String(s)) => vec![s.clone()],
                    Some(serde_json::Value::Array(a)) if !a.is_empty() => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| err(format!("field {field:?} must hold strings")))
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => {
                        return Err(err(format!("field {field:?} must be a string or a non-empty list of strings")));
                    }
                    None => return Err(err(format!("missing field {field:?}"))),
                });
            }
            out
        }
        Format::Csv | Format::Parquet => {
            let fields = FieldMap { text: field.to_owned(), id: None };
            table::read_table(path, format, &fields)?.into_iter().map(|i| vec![i.text]).collect()
        }
    };
    if records.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    Ok(records)
}

/// Decodes UTF-8, or names the first line that is not valid.
pub fn utf8_or_error<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, DataError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::Utf8 { path: path.to_owned(), line }
    })
}
