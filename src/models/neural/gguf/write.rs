//! Writes a GGUF file: a parsed file's tensors under new metadata. The hostile-input tests and
//! the `gguf_keys` fuzz target use it to give a real model's keys other types and values
//! (lmgauge reads GGUF; it has no other reason to write one).

use std::collections::BTreeMap;

use super::{GgmlType, Gguf, MetaArray, MetaValue};

/// The file `file` would be with `metadata` in place of its own (tensors and their bytes kept,
/// version 3, `general.alignment` honoured when `metadata` sets it to a power of two).
pub fn with_metadata(file: &Gguf, metadata: &BTreeMap<String, MetaValue>) -> Vec<u8> {
    let alignment = match metadata.get("general.alignment").and_then(MetaValue::as_u64) {
        Some(a) if a.is_power_of_two() && a <= 1 << 20 => a as usize,
        _ => 32,
    };
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend((file.tensors.len() as u64).to_le_bytes());
    b.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        string(&mut b, key);
        b.extend(type_id(value).to_le_bytes());
        put_value(&mut b, value);
    }
    let mut offset = 0usize;
    let mut offsets = Vec::with_capacity(file.tensors.len());
    for t in &file.tensors {
        string(&mut b, &t.name);
        b.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(ggml_id(t.ggml_type).to_le_bytes());
        b.extend((offset as u64).to_le_bytes());
        offsets.push(offset);
        offset = (offset + t.len).next_multiple_of(alignment);
    }
    let data = b.len().next_multiple_of(alignment);
    b.resize(data, 0);
    for (t, at) in file.tensors.iter().zip(offsets) {
        b.resize(data + at, 0);
        b.extend_from_slice(file.raw(t));
    }
    b
}

fn ggml_id(t: GgmlType) -> u32 {
    (0..64).find(|&id| GgmlType::from_id(id) == Some(t)).expect("every type has an id")
}

fn string(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

fn type_id(v: &MetaValue) -> u32 {
    match v {
        MetaValue::U8(_) => 0,
        MetaValue::I8(_) => 1,
        MetaValue::U16(_) => 2,
        MetaValue::I16(_) => 3,
        MetaValue::U32(_) => 4,
        MetaValue::I32(_) => 5,
        MetaValue::F32(_) => 6,
        MetaValue::Bool(_) => 7,
        MetaValue::Str(_) => 8,
        MetaValue::Array(_) => 9,
        MetaValue::U64(_) => 10,
        MetaValue::I64(_) => 11,
        MetaValue::F64(_) => 12,
    }
}

fn put_value(b: &mut Vec<u8>, v: &MetaValue) {
    match v {
        MetaValue::U8(x) => b.push(*x),
        MetaValue::I8(x) => b.extend(x.to_le_bytes()),
        MetaValue::U16(x) => b.extend(x.to_le_bytes()),
        MetaValue::I16(x) => b.extend(x.to_le_bytes()),
        MetaValue::U32(x) => b.extend(x.to_le_bytes()),
        MetaValue::I32(x) => b.extend(x.to_le_bytes()),
        MetaValue::F32(x) => b.extend(x.to_le_bytes()),
        MetaValue::Bool(x) => b.push(*x as u8),
        MetaValue::Str(s) => string(b, s),
        MetaValue::Array(a) => put_array(b, a),
        MetaValue::U64(x) => b.extend(x.to_le_bytes()),
        MetaValue::I64(x) => b.extend(x.to_le_bytes()),
        MetaValue::F64(x) => b.extend(x.to_le_bytes()),
    }
}

fn put_array(b: &mut Vec<u8>, a: &MetaArray) {
    macro_rules! items {
        ($ty:expr, $v:expr) => {{
            b.extend(($ty as u32).to_le_bytes());
            b.extend(($v.len() as u64).to_le_bytes());
            for x in $v {
                b.extend(x.to_le_bytes());
            }
        }};
    }
    match a {
        MetaArray::U8(v) => items!(0, v),
        MetaArray::I8(v) => items!(1, v),
        MetaArray::U16(v) => items!(2, v),
        MetaArray::I16(v) => items!(3, v),
        MetaArray::U32(v) => items!(4, v),
        MetaArray::I32(v) => items!(5, v),
        MetaArray::F32(v) => items!(6, v),
        MetaArray::Bool(v) => {
            b.extend(7u32.to_le_bytes());
            b.extend((v.len() as u64).to_le_bytes());
            b.extend(v.iter().map(|&x| x as u8));
        }
        MetaArray::Str(v) => {
            b.extend(8u32.to_le_bytes());
            b.extend((v.len() as u64).to_le_bytes());
            for s in v {
                string(b, s);
            }
        }
        MetaArray::Array(v) => {
            b.extend(9u32.to_le_bytes());
            b.extend((v.len() as u64).to_le_bytes());
            for inner in v {
                put_array(b, inner);
            }
        }
        MetaArray::U64(v) => items!(10, v),
        MetaArray::I64(v) => items!(11, v),
        MetaArray::F64(v) => items!(12, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_reads_back_the_same() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny-llama.gguf");
        let file = Gguf::open(&path).unwrap();
        let bytes = with_metadata(&file, &file.metadata);
        let again = Gguf::from_bytes(&path, bytes).unwrap();
        assert_eq!(again.metadata, file.metadata);
        assert_eq!(again.tensors.len(), file.tensors.len());
        for (a, b) in again.tensors.iter().zip(&file.tensors) {
            assert_eq!((a.name.as_str(), &a.dims, a.ggml_type), (b.name.as_str(), &b.dims, b.ggml_type));
            assert_eq!(again.raw(a), file.raw(b));
        }
    }
}
