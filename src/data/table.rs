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
    .map_err(|e| file_err(format!("cannot read {}: {e}", if format == Format::Parquet { "Parquet" } else { "CSV" })))?;

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
