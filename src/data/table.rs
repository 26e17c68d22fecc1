//! Tabular datasets (CSV, Parquet) through polars, with field mapping by column name.

use std::path::Path;

use polars::prelude::*;

use super::{DataError, FieldMap, Format, Item};

pub fn read_table(path: &Path, format: Format, fields: &FieldMap) -> Result<Vec<Item>, DataError> {
    let file_err = |message: String| DataError::File { path: path.to_owned(), message };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    let df = match format {
        Format::Parquet => ParquetReader::new(file).finish(),
        _ => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0)) // every column as text: ids like 007 stay intact
            .into_reader_with_file_handle(file)
            .finish(),
    }
    .map_err(|e| match (format, ragged_row(path)) {
        // polars names no row; find the first record whose width differs from the header's.
        (Format::Csv, Some((line, found, want))) => DataError::Line {
            path: path.to_owned(),
            line,
            message: format!("{found} fields, but the header has {want}"),
        },
        _ => file_err(format!("cannot read {}: {e}", if format == Format::Parquet { "Parquet" } else { "CSV" })),
    })?;

    let column = |name: &str| -> Result<Column, DataError> {
        let col = df.column(name).map_err(|_| {
            let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
            file_err(format!("missing column {name:?} (columns: {})", names.join(", ")))
        })?;
        col.cast(&DataType::String).map_err(|e| file_err(format!("column {name:?} is not text: {e}")))
    };
    let text = column(&fields.text)?;
    let text = text.str().map_err(|e| file_err(e.to_string()))?;
    let ids = fields.id.as_deref().map(column).transpose()?;
    let ids = ids.as_ref().map(|c| c.str()).transpose().map_err(|e| file_err(e.to_string()))?;

    let mut items = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let row_err = |message: String| DataError::Row { path: path.to_owned(), row: row + 1, message };
        let value = text.get(row).ok_or_else(|| row_err(format!("field {:?} is empty (null)", fields.text)))?;
        let id = match &ids {
            Some(ids) => ids
                .get(row)
                .ok_or_else(|| row_err(format!("field {:?} is empty (null)", fields.id.as_deref().unwrap_or(""))))?
                .to_owned(),
            None => (row + 1).to_string(),
        };
        items.push(Item { id, text: value.to_owned(), line: row + 1 });
    }
    Ok(items)
}

/// The first record of a CSV file (RFC 4180 quoting) whose field count differs from the header's:
/// (the line it starts on, its fields, the header's fields).
fn ragged_row(path: &Path) -> Option<(usize, usize, usize)> {
    let bytes = std::fs::read(path).ok()?;
    let (mut line, mut start_line, mut fields, mut in_quotes) = (1usize, 1usize, 1usize, false);
    let mut header: Option<usize> = None;
    let mut empty = true;
    for &b in &bytes {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => fields += 1,
            b'\n' => {
                line += 1;
                if in_quotes {
                    continue;
                }
                if !empty || fields > 1 {
                    match header {
                        None => header = Some(fields),
                        Some(h) if h != fields => return Some((start_line, fields, h)),
                        Some(_) => {}
                    }
                }
                (fields, empty, start_line) = (1, true, line);
                continue;
            }
            b'\r' => continue,
            _ => {}
        }
        empty = false;
    }
    match header {
        Some(h) if !empty && h != fields => Some((start_line, fields, h)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ragged_csv_row_is_named_by_its_line() {
        let dir = std::env::temp_dir().join(format!("lmgauge-ragged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("d.csv");
        std::fs::write(&p, "text,id\n\"a, \"\"quoted\"\"\nline\",1\nb,2\n\nc,3,extra\n").unwrap();
        assert_eq!(ragged_row(&p), Some((6, 3, 2)));
        let err = read_table(&p, Format::Csv, &FieldMap::default()).unwrap_err().to_string();
        assert!(err.contains("d.csv:6: 3 fields, but the header has 2"), "{err}");
        std::fs::write(&p, "text,id\r\nb,2\r\n").unwrap();
        assert_eq!(ragged_row(&p), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
