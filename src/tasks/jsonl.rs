//! JSON Lines datasets as the likelihood-comparison task types read them: one file (plain or
//! gzipped) or every `.jsonl` / `.jsonl.gz` file of a folder, one JSON object per line, each
//! record known by `file-stem:line` and every problem named by `file:line` and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::lines::Lines;

/// One record and where it came from.
pub struct Record {
    /// `file-stem:line`, unique across the files of a folder.
    pub id: String,
    /// `path:line`, for messages.
    pub at: String,
    pub value: serde_json::Value,
}

impl Record {
    /// A text field: a JSON string, never a number, boolean or null read as its JSON text (a
    /// context of `null` would be scored as the word "null"). Unless `may_be_empty`, a string
    /// that is empty or only whitespace is refused too.
    pub fn text(&self, name: &str, may_be_empty: bool) -> Result<String, String> {
        let at = &self.at;
        match self.value.get(name) {
            None => Err(format!("{at}: field {name:?} is missing")),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() && !may_be_empty => {
                Err(format!("{at}: field {name:?} is empty"))
            }
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(format!("{at}: field {name:?} must be text (a JSON string), found {}", kind(v))),
        }
    }

    /// A grouping field (a phenomenon, a subject): a string, or a number, boolean or null read as
    /// its JSON text; an empty string is kept. A missing field, an object or an array is an error.
    pub fn label(&self, name: &str) -> Result<String, String> {
        let at = &self.at;
        match self.value.get(name) {
            None => Err(format!("{at}: field {name:?} is missing")),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(v) if !v.is_object() && !v.is_array() => Ok(v.to_string()),
            Some(v) => Err(format!("{at}: field {name:?} must be a string, number or boolean, found {}", kind(v))),
        }
    }
}

/// What a JSON value is, for messages.
pub fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The name a file's records are known by: its name without `.jsonl` / `.jsonl.gz`.
fn stem(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.trim_end_matches(".gz").trim_end_matches(".jsonl").to_owned()
}

/// The files a dataset path names: the file itself, or every `.jsonl` / `.jsonl.gz` file in a
/// folder, in name order. Two files of one stem (`a.jsonl` beside `a.jsonl.gz`) are refused:
/// their records would share ids, and per-item results and groups would mix them up.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl") || p.to_string_lossy().ends_with(".jsonl.gz"))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("{}: no .jsonl or .jsonl.gz files in this folder", path.display()));
    }
    let mut stems: BTreeMap<String, &Path> = BTreeMap::new();
    for file in &out {
        if let Some(other) = stems.insert(stem(file), file) {
            return Err(format!(
                "{}: {} and {} would both give items {s}:1, {s}:2, …; keep one of them",
                path.display(),
                other.file_name().unwrap_or_default().to_string_lossy(),
                file.file_name().unwrap_or_default().to_string_lossy(),
                s = stem(file)
            ));
        }
    }
    Ok(out)
}

/// Reads the records of every file `path` names, at most `per_file` from each and `limit` in
/// all, handing each to `take` (which returns an error naming the field it refuses). Blank lines
/// are skipped; a line that is not a JSON object is an error at its place.
pub fn read<T>(
    path: &Path,
    per_file: Option<usize>,
    limit: Option<usize>,
    mut take: impl FnMut(Record) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for file in files(path)? {
        let stem = stem(&file);
        let mut lines = Lines::open(&file).map_err(|e| e.to_string())?;
        let mut taken = 0;
        while let Some((n, raw)) = lines.next_line().map_err(|e| e.to_string())? {
            if per_file.is_some_and(|k| taken >= k) || limit.is_some_and(|k| out.len() >= k) {
                break;
            }
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let at = format!("{}:{n}", file.display());
            let line = std::str::from_utf8(raw).map_err(|_| format!("{at}: invalid UTF-8"))?;
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{at}: not a JSON object: {e}"))?;
            if !value.is_object() {
                return Err(format!("{at}: not a JSON object"));
            }
            out.push(take(Record { id: format!("{stem}:{n}"), at, value })?);
            taken += 1;
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no records", path.display()));
    }
    Ok(out)
}
