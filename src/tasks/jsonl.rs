//! JSON Lines datasets as the likelihood-comparison task types read them: one file (plain or
//! gzipped) or every `.jsonl` / `.jsonl.gz` file of a folder, one JSON object per line, each
//! record known by `file-stem:line` and every problem named by `file:line` and field.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One record and where it came from.
pub struct Record {
    /// `file-stem:line`, unique across the files of a folder.
    pub id: String,
    /// `path:line`, for messages.
    pub at: String,
    pub value: serde_json::Value,
}

impl Record {
    /// A string field. Where `may_be_empty` (grouping fields), a number, boolean or null is read
    /// as its JSON text and an empty string is kept; a missing field, an object or an array is
    /// always an error.
    pub fn string(&self, name: &str, may_be_empty: bool) -> Result<String, String> {
        let at = &self.at;
        match self.value.get(name) {
            None => Err(format!("{at}: field {name:?} is missing")),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() && !may_be_empty => {
                Err(format!("{at}: field {name:?} is empty"))
            }
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(v) if may_be_empty && !v.is_object() && !v.is_array() => Ok(v.to_string()),
            Some(_) => Err(format!("{at}: field {name:?} must be a string")),
        }
    }
}

/// The files a dataset path names: the file itself, or every `.jsonl` / `.jsonl.gz` file in a
/// folder, in name order.
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
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = name.trim_end_matches(".gz").trim_end_matches(".jsonl").to_owned();
        let opened = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let reader: Box<dyn Read> =
            if name.ends_with(".gz") { Box::new(flate2::read::MultiGzDecoder::new(opened)) } else { Box::new(opened) };
        let mut taken = 0;
        for (i, line) in BufReader::new(reader).lines().enumerate() {
            if per_file.is_some_and(|n| taken >= n) || limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            let at = format!("{}:{}", file.display(), i + 1);
            let line = line.map_err(|e| format!("{at}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| format!("{at}: not a JSON object: {e}"))?;
            if !value.is_object() {
                return Err(format!("{at}: not a JSON object"));
            }
            out.push(take(Record { id: format!("{stem}:{}", i + 1), at, value })?);
            taken += 1;
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no records", path.display()));
    }
    Ok(out)
}
