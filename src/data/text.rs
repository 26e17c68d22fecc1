//! Line-oriented readers: plain text (by line, by blank-line-separated document, or whole file)
//! and JSON Lines with field mapping.

use std::path::Path;

use super::{DataError, FieldMap, Item, Unit, utf8_or_error};

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })
}

pub fn read_text(path: &Path, unit: Unit) -> Result<Vec<Item>, DataError> {
    let bytes = read(path)?;
    let text = utf8_or_error(path, &bytes)?;
    Ok(split_text(&normalize_line_ends(text), unit))
}

/// CRLF line ends become LF, as every reader of aligned lines already treats them: the same
/// text saved on Windows scores the same, and its CRs are never counted as scored bytes.
pub fn normalize_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\r\n") {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Splits text into items; blank lines never form items of their own.
pub fn split_text(text: &str, unit: Unit) -> Vec<Item> {
    let mut items = Vec::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    match unit {
        Unit::File => {
            if !text.trim().is_empty() {
                items.push(Item { id: "1".into(), text: text.to_owned(), line: 1 });
            }
        }
        Unit::Line => {
            for (i, line) in body.split('\n').enumerate() {
                if !line.trim().is_empty() {
                    let n = items.len() + 1;
                    items.push(Item { id: n.to_string(), text: line.to_owned(), line: i + 1 });
                }
            }
        }
        Unit::Document => {
            let mut current: Vec<&str> = Vec::new();
            let mut start = 0;
            let flush = |current: &mut Vec<&str>, start: usize, items: &mut Vec<Item>| {
                if !current.is_empty() {
                    let n = items.len() + 1;
                    items.push(Item { id: n.to_string(), text: current.join("\n"), line: start });
                    current.clear();
                }
            };
            for (i, line) in body.split('\n').enumerate() {
                if line.trim().is_empty() {
                    flush(&mut current, start, &mut items);
                } else {
                    if current.is_empty() {
                        start = i + 1;
                    }
                    current.push(line);
                }
            }
            flush(&mut current, start, &mut items);
        }
    }
    items
}

pub fn read_jsonl(path: &Path, fields: &FieldMap) -> Result<Vec<Item>, DataError> {
    parse_jsonl(path, &read(path)?, fields)
}

/// Parses JSON Lines already in memory; `path` is only used in messages.
pub fn parse_jsonl(path: &Path, bytes: &[u8], fields: &FieldMap) -> Result<Vec<Item>, DataError> {
    let mut items = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = std::str::from_utf8(raw).map_err(|_| DataError::Utf8 { path: path.to_owned(), line: line_no })?;
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| DataError::Line { path: path.to_owned(), line: line_no, message };
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| err("expected a JSON object".into()))?;
        let text = string_field(obj, &fields.text).map_err(err)?;
        let id = match &fields.id {
            Some(f) => string_field(obj, f).map_err(err)?,
            None => (items.len() + 1).to_string(),
        };
        items.push(Item { id, text, line: line_no });
    }
    Ok(items)
}

fn string_field(obj: &serde_json::Map<String, serde_json::Value>, field: &str) -> Result<String, String> {
    match obj.get(field) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("field {field:?} must be a string, found {other}")),
        None => {
            let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
            Err(format!("missing field {field:?} (present: {})", keys.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_blank_lines() {
        let items = split_text(" \n a b \n c\n \n\n d\n", Unit::Document);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].text, " a b \n c");
        assert_eq!(items[0].line, 2);
        assert_eq!(items[1].text, " d");
        assert_eq!(items[1].line, 6);
    }

    #[test]
    fn crlf_reads_as_lf() {
        for unit in [Unit::Line, Unit::Document, Unit::File] {
            let lf = split_text("a b\nc\n\nd\n", unit);
            let crlf = split_text(&normalize_line_ends("a b\r\nc\r\n\r\nd\r\n"), unit);
            assert_eq!(lf, crlf, "{unit:?}");
        }
    }

    #[test]
    fn lines_skip_blanks() {
        let items = split_text("a\n\n b\n", Unit::Line);
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), vec![1, 3]);
    }
}
