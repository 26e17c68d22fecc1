//! GGUF, the file format of llama.cpp: a header, metadata key/value pairs, tensor descriptions and
//! an aligned data section. The reader maps the file and checks every count, length and offset
//! against the bytes that are actually there before using it, so a truncated or crafted file
//! yields an error naming the file and the field, never a panic or an allocation the file cannot
//! back. Tensor data stays in the map until [`Gguf::dequantize`] turns one tensor into f32.
//!
//! Plain Rust, built with or without the `torch` feature (the `lmgauge models` listing and the
//! fuzz target use it too).

mod dequant;
pub mod spm;
pub mod tokenizer;
pub mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use dequant::{GgmlType, SUPPORTED_TYPES, dequantize as dequantize_blocks};

use super::NeuralError;

const MAGIC: &[u8; 4] = b"GGUF";
/// GGML_MAX_DIMS: no tensor has more dimensions.
const MAX_DIMS: u32 = 4;
const DEFAULT_ALIGNMENT: u64 = 32;

/// Whether `path` is a GGUF file (by its first four bytes, whatever its name).
pub fn is_gguf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    path.is_file() && std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// A metadata value (GGUF value types 0–12).
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Array(MetaArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    /// Any integer type as u64 (negative values are not counts or ids).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// [`MetaValue::as_u64`] as a size, saturating past `usize`.
    pub fn as_usize(&self) -> Option<usize> {
        self.as_u64().map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    }

    /// Any number as f64: floats as they are, integers (signed too) converted.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::I16(v) => Some(v.into()),
            MetaValue::I32(v) => Some(v.into()),
            MetaValue::I64(v) => Some(v as f64),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The GGUF type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetaValue::U8(_) => "a u8",
            MetaValue::I8(_) => "an i8",
            MetaValue::U16(_) => "a u16",
            MetaValue::I16(_) => "an i16",
            MetaValue::U32(_) => "a u32",
            MetaValue::I32(_) => "an i32",
            MetaValue::F32(_) => "an f32",
            MetaValue::Bool(_) => "a boolean",
            MetaValue::Str(_) => "a string",
            MetaValue::Array(_) => "an array",
            MetaValue::U64(_) => "a u64",
            MetaValue::I64(_) => "an i64",
            MetaValue::F64(_) => "an f64",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetaValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&MetaArray> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A metadata array, stored as a vector of its item type: a million-entry u8 array costs a
/// megabyte, as in the file, not a million enum values (32 bytes each).
#[derive(Debug, Clone, PartialEq)]
pub enum MetaArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    Str(Vec<String>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Array(Vec<MetaArray>),
}

impl MetaArray {
    pub fn len(&self) -> usize {
        match self {
            MetaArray::U8(v) => v.len(),
            MetaArray::I8(v) => v.len(),
            MetaArray::U16(v) => v.len(),
            MetaArray::I16(v) => v.len(),
            MetaArray::U32(v) => v.len(),
            MetaArray::I32(v) => v.len(),
            MetaArray::F32(v) => v.len(),
            MetaArray::Bool(v) => v.len(),
            MetaArray::Str(v) => v.len(),
            MetaArray::U64(v) => v.len(),
            MetaArray::I64(v) => v.len(),
            MetaArray::F64(v) => v.len(),
            MetaArray::Array(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items when this is an array of strings.
    pub fn strings(&self) -> Option<&[String]> {
        match self {
            MetaArray::Str(v) => Some(v),
            _ => None,
        }
    }

    /// Item `i` of a float array as f64.
    pub fn f64_at(&self, i: usize) -> Option<f64> {
        match self {
            MetaArray::F32(v) => v.get(i).map(|&x| x.into()),
            MetaArray::F64(v) => v.get(i).copied(),
            _ => None,
        }
    }

    /// Item `i` of an integer array as u64 (negative values are not counts or ids).
    pub fn u64_at(&self, i: usize) -> Option<u64> {
        match self {
            MetaArray::U8(v) => v.get(i).map(|&x| x.into()),
            MetaArray::U16(v) => v.get(i).map(|&x| x.into()),
            MetaArray::U32(v) => v.get(i).map(|&x| x.into()),
            MetaArray::U64(v) => v.get(i).copied(),
            MetaArray::I8(v) => v.get(i).and_then(|&x| u64::try_from(x).ok()),
            MetaArray::I16(v) => v.get(i).and_then(|&x| u64::try_from(x).ok()),
            MetaArray::I32(v) => v.get(i).and_then(|&x| u64::try_from(x).ok()),
            MetaArray::I64(v) => v.get(i).and_then(|&x| u64::try_from(x).ok()),
            _ => None,
        }
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::Str(s) => write!(f, "{s:?}"),
            MetaValue::Array(a) => write!(f, "[{} values]", a.len()),
            MetaValue::Bool(b) => write!(f, "{b}"),
            other => write!(f, "{}", other.as_f64().map_or_else(|| format!("{other:?}"), |v| v.to_string())),
        }
    }
}

/// One tensor's description: `dims[0]` varies fastest (the reverse of PyTorch's shape).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Byte range of the data, absolute in the file.
    pub start: usize,
    pub len: usize,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The shape as PyTorch orders it (slowest dimension first).
    pub fn torch_shape(&self) -> Vec<i64> {
        self.dims.iter().rev().map(|&d| d as i64).collect()
    }
}

enum Bytes {
    Mapped(crate::models::mapped::Mapped),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A parsed GGUF file.
pub struct Gguf {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<TensorInfo>,
    bytes: Bytes,
}

impl fmt::Debug for Gguf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Gguf({}, v{}, {} keys, {} tensors)",
            self.path.display(),
            self.version,
            self.metadata.len(),
            self.tensors.len()
        )
    }
}

impl Gguf {
    pub fn open(path: &Path) -> Result<Self, NeuralError> {
        let file = std::fs::File::open(path).map_err(|e| NeuralError::file(path, e.to_string()))?;
        // A file changed underneath gives wrong numbers, the risk every mmap-based loader
        // (llama.cpp, safetensors) accepts; one shrunk underneath is a clear error (`mapped`).
        let map = crate::models::mapped::Mapped::open(&file, path, false)
            .map_err(|e| NeuralError::file(path, format!("cannot map: {e}")))?;
        Self::parse(path, Bytes::Mapped(map))
    }

    /// Parses bytes already in memory (tests and the fuzz target).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, NeuralError> {
        Self::parse(path, Bytes::Owned(bytes))
    }

    fn parse(path: &Path, bytes: Bytes) -> Result<Self, NeuralError> {
        let mut r = Cursor { buf: &bytes, pos: 0, path };
        if r.take(4, "magic")? != MAGIC {
            return Err(r.error("magic", "not a GGUF file (the first four bytes are not \"GGUF\")"));
        }
        let version = r.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(r.error("version", format!("GGUF version {version} is not supported (2 and 3 are)")));
        }
        let tensor_count = r.u64("tensor_count")?;
        let kv_count = r.u64("kv_count")?;
        // Each key/value takes at least 12 bytes and each tensor description at least 28.
        r.fits(kv_count, 12, "kv_count")?;
        r.fits(tensor_count, 28, "tensor_count")?;
        let mut metadata = BTreeMap::new();
        for i in 0..kv_count {
            let key = r.string(&format!("metadata key #{i}"))?;
            let ty = r.u32(&format!("type of {key}"))?;
            let value = r.value(ty, &key, 0)?;
            metadata.insert(key, value);
        }
        let mut infos = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = r.string(&format!("tensor #{i} name"))?;
            let n_dims = r.u32(&format!("{name}: n_dims"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(
                    r.error(&format!("{name}: n_dims"), format!("{n_dims} dimensions (1 to {MAX_DIMS} allowed)"))
                );
            }
            let dims = (0..n_dims).map(|d| r.u64(&format!("{name}: dim {d}"))).collect::<Result<Vec<_>, _>>()?;
            let raw_type = r.u32(&format!("{name}: type"))?;
            let ggml_type = GgmlType::from_id(raw_type).ok_or_else(|| {
                r.error(
                    &format!("{name}: type"),
                    format!(
                        "tensor type {raw_type} is not supported (supported: {})",
                        SUPPORTED_TYPES.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            let offset = r.u64(&format!("{name}: offset"))?;
            infos.push((name, dims, ggml_type, offset));
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => return Err(r.error("general.alignment", format!("{v} is not a power of two up to 2^20"))),
            },
        };
        let data_start = (r.pos as u64).div_ceil(alignment) * alignment;
        let file_len = bytes.len() as u64;
        let mut tensors = Vec::with_capacity(infos.len());
        for (name, dims, ggml_type, offset) in infos {
            let field = format!("{name}: dims");
            let elements = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| r.error(&field, "element count overflows"))?;
            let block = ggml_type.block_elements() as u64;
            if dims[0] % block != 0 {
                return Err(r.error(
                    &field,
                    format!("first dimension {} is not a multiple of {}'s block of {block}", dims[0], ggml_type.name()),
                ));
            }
            let len = (elements / block)
                .checked_mul(ggml_type.block_bytes() as u64)
                .ok_or_else(|| r.error(&field, "byte size overflows"))?;
            if offset % alignment != 0 {
                return Err(
                    r.error(&format!("{name}: offset"), format!("offset {offset} is not aligned to {alignment}"))
                );
            }
            let start =
                data_start.checked_add(offset).filter(|s| s.checked_add(len).is_some_and(|end| end <= file_len));
            let Some(start) = start else {
                return Err(r.error(&format!("{name}: offset"), format!("data ({len} bytes at offset {offset}) runs past the end of the file ({file_len} bytes): truncated?")));
            };
            tensors.push(TensorInfo { name, dims, ggml_type, start: start as usize, len: len as usize });
        }
        Ok(Gguf { path: path.to_owned(), version, metadata, tensors, bytes })
    }

    /// The raw value of a key, whatever its type; readers of configuration use the typed
    /// accessors below, which refuse a value of the wrong type instead of ignoring it.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// A required metadata value, or an error naming the key.
    pub fn require(&self, key: &str) -> Result<&MetaValue, NeuralError> {
        self.metadata.get(key).ok_or_else(|| NeuralError::file(&self.path, format!("metadata key {key:?} is missing")))
    }

    /// A key read by `read` (one of [`MetaValue`]'s accessors): absent is `None`; a value `read`
    /// refuses (a negative integer where a count is wanted, a float, a string, a boolean, an
    /// array) is an error naming the key, its type and value and what it must be, never replaced
    /// by a default (that silently changed the numbers; llama.cpp refuses a wrong type too).
    fn typed<'a, T>(
        &'a self,
        key: &str,
        read: impl Fn(&'a MetaValue) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, NeuralError> {
        let Some(v) = self.get(key) else { return Ok(None) };
        read(v).map(Some).ok_or_else(|| {
            NeuralError::file(
                &self.path,
                format!("metadata key {key:?} is {} {v}; it must be {expected}", v.type_name()),
            )
        })
    }

    /// [`Gguf::typed`] for a key that must be present.
    fn required<'a, T>(
        &'a self,
        key: &str,
        read: impl Fn(&'a MetaValue) -> Option<T>,
        expected: &str,
    ) -> Result<T, NeuralError> {
        self.require(key)?;
        Ok(self.typed(key, read, expected)?.expect("present"))
    }

    /// An optional count or id: any integer type holding a value ≥ 0.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, NeuralError> {
        self.typed(key, MetaValue::as_u64, "a non-negative integer")
    }

    pub fn require_u64(&self, key: &str) -> Result<u64, NeuralError> {
        self.required(key, MetaValue::as_u64, "a non-negative integer")
    }

    /// [`Gguf::opt_u64`] as a size: a count past `usize` saturates, for the size checks to refuse.
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>, NeuralError> {
        self.typed(key, MetaValue::as_usize, "a non-negative integer")
    }

    pub fn require_usize(&self, key: &str) -> Result<usize, NeuralError> {
        self.required(key, MetaValue::as_usize, "a non-negative integer")
    }

    /// An optional real number: a float, or an integer (read exactly as f64); its range is
    /// checked where it is used.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, NeuralError> {
        self.typed(key, MetaValue::as_f64, "a number")
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, NeuralError> {
        self.typed(key, MetaValue::as_str, "a string")
    }

    pub fn require_str(&self, key: &str) -> Result<&str, NeuralError> {
        self.required(key, MetaValue::as_str, "a string")
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, NeuralError> {
        self.typed(key, MetaValue::as_bool, "a boolean")
    }

    pub fn opt_array(&self, key: &str) -> Result<Option<&MetaArray>, NeuralError> {
        self.typed(key, MetaValue::as_array, "an array")
    }

    pub fn require_array(&self, key: &str) -> Result<&MetaArray, NeuralError> {
        self.required(key, MetaValue::as_array, "an array")
    }

    /// Layers the file stores: one more than the largest `N` in tensor names `blk.N.…`.
    pub fn stored_layers(&self) -> usize {
        self.tensors
            .iter()
            .filter_map(|t| t.name.strip_prefix("blk.")?.split('.').next()?.parse::<usize>().ok())
            .map(|n| n.saturating_add(1))
            .max()
            .unwrap_or(0)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The whole file (tensors' `start` offsets index it).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The raw bytes of a tensor (quantized blocks as stored).
    pub fn raw(&self, info: &TensorInfo) -> &[u8] {
        &self.bytes[info.start..info.start + info.len]
    }

    /// A tensor's values as f32, in file order (`dims[0]` fastest).
    pub fn dequantize(&self, info: &TensorInfo) -> Vec<f32> {
        let mut out = vec![0f32; info.elements() as usize];
        dequant::dequantize(info.ggml_type, self.raw(info), &mut out);
        out
    }
}

/// Reads `count` little-endian items of a fixed width (already checked to fit).
macro_rules! fixed_items {
    ($self:ident, $count:ident, $key:ident, $ty:ty) => {{
        const W: usize = std::mem::size_of::<$ty>();
        let bytes = $self.take($count * W, $key)?;
        bytes.chunks_exact(W).map(|c| <$ty>::from_le_bytes(c.try_into().expect("W bytes"))).collect()
    }};
}

/// Reads little-endian fields, each checked against the bytes left.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

/// Arrays nest at most this deep (llama.cpp's writer never nests; a crafted file could recurse).
const MAX_NESTING: usize = 4;

impl Cursor<'_> {
    fn error(&self, field: &str, message: impl fmt::Display) -> NeuralError {
        NeuralError::file(self.path, format!("{field} (byte {}): {message}", self.pos))
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&[u8], NeuralError> {
        if self.buf.len() - self.pos < n {
            return Err(self.error(
                field,
                format!("needs {n} bytes but the file ends after {}: truncated?", self.buf.len() - self.pos),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Refuses a count whose items, at `min_size` bytes each, could not fit in what is left.
    fn fits(&self, count: u64, min_size: u64, field: &str) -> Result<(), NeuralError> {
        let left = (self.buf.len() - self.pos) as u64;
        if count.checked_mul(min_size).is_none_or(|need| need > left) {
            return Err(self.error(field, format!("count {count} cannot fit in the {left} bytes left")));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], NeuralError> {
        Ok(self.take(N, field)?.try_into().expect("take returned N bytes"))
    }

    fn u32(&mut self, field: &str) -> Result<u32, NeuralError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &str) -> Result<u64, NeuralError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn string(&mut self, field: &str) -> Result<String, NeuralError> {
        let len = self.u64(field)?;
        self.fits(len, 1, field)?;
        let bytes = self.take(len as usize, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error(field, "string is not valid UTF-8"))
    }

    fn array_items(&mut self, item_type: u32, count: usize, key: &str, depth: usize) -> Result<MetaArray, NeuralError> {
        Ok(match item_type {
            0 => MetaArray::U8(self.take(count, key)?.to_vec()),
            1 => MetaArray::I8(fixed_items!(self, count, key, i8)),
            2 => MetaArray::U16(fixed_items!(self, count, key, u16)),
            3 => MetaArray::I16(fixed_items!(self, count, key, i16)),
            4 => MetaArray::U32(fixed_items!(self, count, key, u32)),
            5 => MetaArray::I32(fixed_items!(self, count, key, i32)),
            6 => MetaArray::F32(fixed_items!(self, count, key, f32)),
            7 => {
                let bools: Vec<u8> = self.take(count, key)?.to_vec();
                if let Some(b) = bools.iter().find(|&&b| b > 1) {
                    return Err(self.error(key, format!("boolean byte {b} is neither 0 nor 1")));
                }
                MetaArray::Bool(bools.iter().map(|&b| b == 1).collect())
            }
            8 => {
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.string(key)?);
                }
                MetaArray::Str(items)
            }
            9 => {
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    match self.value(9, key, depth)? {
                        MetaValue::Array(a) => items.push(a),
                        _ => unreachable!("type 9 reads an array"),
                    }
                }
                MetaArray::Array(items)
            }
            10 => MetaArray::U64(fixed_items!(self, count, key, u64)),
            11 => MetaArray::I64(fixed_items!(self, count, key, i64)),
            12 => MetaArray::F64(fixed_items!(self, count, key, f64)),
            t => return Err(self.error(key, format!("unknown array item type {t}"))),
        })
    }

    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<MetaValue, NeuralError> {
        Ok(match ty {
            0 => MetaValue::U8(self.array::<1>(key)?[0]),
            1 => MetaValue::I8(self.array::<1>(key)?[0] as i8),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(key)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(key)?)),
            4 => MetaValue::U32(self.u32(key)?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(key)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(key)?)),
            7 => match self.array::<1>(key)?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => return Err(self.error(key, format!("boolean byte {b} is neither 0 nor 1"))),
            },
            8 => MetaValue::Str(self.string(key)?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(self.error(key, format!("arrays nested more than {MAX_NESTING} deep")));
                }
                let item_type = self.u32(key)?;
                let count = self.u64(key)?;
                let min_size = match item_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    t => return Err(self.error(key, format!("unknown array item type {t}"))),
                };
                self.fits(count, min_size, key)?;
                MetaValue::Array(self.array_items(item_type, count as usize, key, depth + 1)?)
            }
            10 => MetaValue::U64(self.u64(key)?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(key)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(key)?)),
            t => return Err(self.error(key, format!("unknown value type {t}"))),
        })
    }
}
