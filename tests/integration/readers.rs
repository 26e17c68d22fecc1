//! Dataset readers: field mapping and clear errors naming file and line or row.

use std::path::PathBuf;

use lmgauge::data::{DatasetSpec, FieldMap, Format, Unit, load};

fn spec(path: PathBuf, format: Format, text: &str, id: Option<&str>) -> DatasetSpec {
    DatasetSpec {
        path,
        format,
        unit: Unit::Line,
        fields: FieldMap { text: text.into(), id: id.map(Into::into) },
        limit: None,
    }
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn text_units() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "t.txt", b"a b\n\nc\nd\n \ne\n");
    let mut s = spec(p, Format::Text, "text", None);
    assert_eq!(load(&s).unwrap().len(), 4);
    s.unit = Unit::Document;
    let docs = load(&s).unwrap();
    assert_eq!(docs.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(), vec!["a b", "c\nd", "e"]);
    s.unit = Unit::File;
    assert_eq!(load(&s).unwrap().len(), 1);
    s.limit = Some(1);
    s.unit = Unit::Line;
    assert_eq!(load(&s).unwrap().len(), 1);
}

#[test]
fn invalid_utf8_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "bad.txt", b"fine\nalso fine\nbroken \xc3\x28 here\n");
    let err = load(&spec(p, Format::Text, "text", None)).unwrap_err().to_string();
    assert!(err.contains("bad.txt:3") && err.contains("UTF-8"), "{err}");
    let p = write(&dir, "bad.jsonl", b"{\"text\": \"ok\"}\n{\"text\": \"\xff\"}\n");
    let err = load(&spec(p, Format::Jsonl, "text", None)).unwrap_err().to_string();
    assert!(err.contains("bad.jsonl:2"), "{err}");
}

#[test]
fn jsonl_fields_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "d.jsonl", b"{\"body\": \"x y\", \"key\": \"a\"}\n\n{\"body\": \"z\", \"key\": 7}\n");
    let items = load(&spec(p.clone(), Format::Jsonl, "body", Some("key"))).unwrap();
    assert_eq!((items[1].id.as_str(), items[1].text.as_str(), items[1].line), ("7", "z", 3));
    let err = load(&spec(p.clone(), Format::Jsonl, "text", None)).unwrap_err().to_string();
    assert!(err.contains("d.jsonl:1") && err.contains("missing field \"text\"") && err.contains("body"), "{err}");
    let p = write(&dir, "e.jsonl", b"{\"text\": \"ok\"}\n{\"text\": [1]}\n");
    let err = load(&spec(p, Format::Jsonl, "text", None)).unwrap_err().to_string();
    assert!(err.contains("e.jsonl:2") && err.contains("must be a string"), "{err}");
    let p = write(&dir, "f.jsonl", b"{\"text\": \"ok\"}\n{oops\n");
    let err = load(&spec(p, Format::Jsonl, "text", None)).unwrap_err().to_string();
    assert!(err.contains("f.jsonl:2") && err.contains("invalid JSON"), "{err}");
}

#[test]
fn csv_fields_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "d.csv", b"id,sentence\n001,hello world\n002,\"a, quoted\"\n");
    let items = load(&spec(p.clone(), Format::Csv, "sentence", Some("id"))).unwrap();
    assert_eq!(items[0].id, "001");
    assert_eq!(items[1].text, "a, quoted");
    let err = load(&spec(p, Format::Csv, "text", None)).unwrap_err().to_string();
    assert!(err.contains("d.csv") && err.contains("missing column \"text\"") && err.contains("sentence"), "{err}");
    let p = write(&dir, "n.csv", b"id,text\n1,a\n2,\n");
    let err = load(&spec(p, Format::Csv, "text", None)).unwrap_err().to_string();
    assert!(err.contains("n.csv: row 2") && err.contains("\"text\""), "{err}");
}

#[test]
fn parquet_fields() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.parquet");
    let mut df = df!("doc" => ["one two", "three"], "n" => [10i64, 20]).unwrap();
    ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
    let items = load(&spec(p.clone(), Format::Parquet, "doc", Some("n"))).unwrap();
    assert_eq!((items[1].id.as_str(), items[1].text.as_str()), ("20", "three"));
    let err = load(&spec(p, Format::Parquet, "text", None)).unwrap_err().to_string();
    assert!(err.contains("d.parquet") && err.contains("missing column"), "{err}");
}

#[test]
fn empty_dataset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "empty.txt", b"\n \n\n");
    let err = load(&spec(p, Format::Text, "text", None)).unwrap_err().to_string();
    assert!(err.contains("empty.txt") && err.contains("no items"), "{err}");
}
