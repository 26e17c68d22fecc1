//! Reading and writing ARPA back-off language model files.
//!
//! The reader treats the file as untrusted: every declared count is checked against what the file
//! can hold before memory is reserved, every field is parsed with a line-numbered error, and a
//! truncated or inconsistent file is an error, never a panic. The writer produces the layout lmplz
//! writes (tab separated, a backoff on every entry below the top order).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use rustc_hash::FxHashMap;

use super::vocab::{BOS_STR, EOS_STR, UNK_STR};
use super::{ArpaModel, NgramError, OrderTable};

/// The highest order accepted; far above any real model, it bounds per-line work.
pub const MAX_ORDER: usize = 64;
/// The log10 probability KenLM gives `<unk>` when an ARPA file lacks it.
pub const MISSING_UNK_LOG10: f32 = -100.0;

pub fn write_arpa(model: &ArpaModel, out: &mut impl Write) -> std::io::Result<()> {
    let mut buf = String::with_capacity(1 << 16);
    buf.push_str("\\data\\\n");
    for table in &model.orders {
        let _ = writeln!(buf, "ngram {}={}", table.order, table.len());
    }
    buf.push('\n');
    for table in &model.orders {
        let _ = writeln!(buf, "\\{}-grams:", table.order);
        let with_backoff = !table.log10_backoff.is_empty();
        for i in 0..table.len() {
            let _ = write!(buf, "{}\t", table.log10_prob[i]);
            for (j, &w) in table.gram(i).iter().enumerate() {
                if j > 0 {
                    buf.push(' ');
                }
                buf.push_str(&model.words[w as usize]);
            }
            if with_backoff {
                let _ = write!(buf, "\t{}", table.log10_backoff[i]);
            }
            buf.push('\n');
            if buf.len() > (1 << 16) {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        buf.push('\n');
    }
    buf.push_str("\\end\\\n");
    out.write_all(buf.as_bytes())
}

pub fn write_arpa_file(model: &ArpaModel, path: &Path) -> Result<(), NgramError> {
    let tmp = path.with_extension("arpa.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| NgramError::io(&tmp, e))?;
    let mut w = std::io::BufWriter::new(file);
    write_arpa(model, &mut w).and_then(|_| w.flush()).map_err(|e| NgramError::io(&tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| NgramError::io(path, e))
}

/// Reads an ARPA file, plain or gzip-compressed (detected by its magic bytes).
pub fn read_arpa_file(path: &Path) -> Result<ArpaModel, NgramError> {
    let bytes = std::fs::read(path).map_err(|e| NgramError::io(path, e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let plain = gunzip_bounded(path, &bytes)?;
        return parse_arpa(path, &plain);
    }
    parse_arpa(path, &bytes)
}

/// ARPA text compresses about 4–8×; anything expanding past this ratio is treated as a
/// decompression bomb rather than allocated.
const MAX_GZIP_RATIO: u64 = 64;

fn gunzip_bounded(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, NgramError> {
    use std::io::Read;
    let limit = (bytes.len() as u64).saturating_mul(MAX_GZIP_RATIO).saturating_add(1 << 20);
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(limit + 1);
    decoder.read_to_end(&mut out).map_err(|e| NgramError::Arpa {
        path: path.to_owned(),
        line: 0,
        message: format!("corrupt gzip data: {e}"),
    })?;
    if out.len() as u64 > limit {
        return Err(NgramError::Arpa {
            path: path.to_owned(),
            line: 0,
            message: format!("gzip data expands beyond {MAX_GZIP_RATIO}× its size; refusing to load it"),
        });
    }
    Ok(out)
}

struct Lines<'a> {
    path: &'a Path,
    rest: &'a [u8],
    line: usize,
}

impl<'a> Lines<'a> {
    fn err(&self, message: impl Into<String>) -> NgramError {
        NgramError::Arpa { path: self.path.to_owned(), line: self.line, message: message.into() }
    }

    /// The next line without its newline, or `None` at end of file.
    fn next(&mut self) -> Result<Option<&'a str>, NgramError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        self.line += 1;
        let text = std::str::from_utf8(line).map_err(|_| self.err("invalid UTF-8"))?;
        Ok(Some(text.strip_suffix('\r').unwrap_or(text)))
    }

    /// The next line that is not blank, or an error naming what was expected.
    fn next_nonblank(&mut self, expected: &str) -> Result<&'a str, NgramError> {
        loop {
            match self.next()? {
                Some(l) if l.trim().is_empty() => continue,
                Some(l) => return Ok(l),
                None => return Err(self.err(format!("unexpected end of file, expected {expected}"))),
            }
        }
    }
}

fn parse_float(lines: &Lines, field: &str, what: &str) -> Result<f32, NgramError> {
    let v: f32 = field
        .parse()
        .map_err(|_| lines.err(format!("{what} is not a number: {field:?}")))?;
    if v.is_nan() || v == f32::INFINITY {
        return Err(lines.err(format!("{what} must be a finite log10 value, got {field:?}")));
    }
    Ok(v)
}

/// Parses an ARPA file already in memory; `path` is only used in messages.
pub fn parse_arpa(path: &Path, bytes: &[u8]) -> Result<ArpaModel, NgramError> {
    let mut lines = Lines { path, rest: bytes, line: 0 };
    loop {
        match lines.next()? {
            Some(l) if l.trim() == "\\data\\" => break,
            Some(_) => continue,
            None => return Err(lines.err("no \\data\\ section: not an ARPA file")),
        }
    }
    // Header: "ngram k=count" lines until the first section.
    let mut declared: Vec<u64> = Vec::new();
    let first_section = loop {
        let l = lines.next_nonblank("'ngram N=count' or a '\\1-grams:' section")?;
        let Some(spec) = l.trim().strip_prefix("ngram ") else { break l };
        let (k, count) = spec
            .split_once('=')
            .ok_or_else(|| lines.err(format!("malformed count line {l:?}")))?;
        let k: usize = k.trim().parse().map_err(|_| lines.err(format!("bad order in {l:?}")))?;
        let count: u64 = count.trim().parse().map_err(|_| lines.err(format!("bad count in {l:?}")))?;
        if k != declared.len() + 1 {
            return Err(lines.err(format!("expected the count of order {}, found order {k}", declared.len() + 1)));
        }
        if k > MAX_ORDER {
            return Err(lines.err(format!("order {k} exceeds the supported maximum {MAX_ORDER}")));
        }
        // A well-formed entry takes at least 4 bytes: bound memory by what the file can hold.
        if count > (lines.rest.len() / 4 + 1) as u64 {
            return Err(lines.err(format!(
                "{count} {k}-grams declared, but only {} bytes follow",
                lines.rest.len()
            )));
        }
        declared.push(count);
    };
    if declared.is_empty() {
        return Err(lines.err("the \\data\\ section declares no n-gram counts"));
    }
    let max_entries = (lines.rest.len() / 4 + 1) as u64;
    let total: u64 = declared.iter().fold(0u64, |a, &c| a.saturating_add(c));
    if total > max_entries.saturating_add(1) {
        return Err(lines.err(format!(
            "declared n-gram counts ({total} in all) cannot fit in the {} bytes that follow",
            lines.rest.len()
        )));
    }

    let max_order = declared.len();
    let mut words: Vec<String> = Vec::with_capacity(declared[0] as usize + 1);
    let mut index: FxHashMap<String, u32> = FxHashMap::default();
    let mut orders: Vec<OrderTable> = Vec::with_capacity(max_order);
    let mut header = first_section;
    for (k0, &count) in declared.iter().enumerate() {
        let k = k0 + 1;
        if header.trim() != format!("\\{k}-grams:") {
            return Err(lines.err(format!("expected \\{k}-grams:, found {header:?}")));
        }
        let mut table = OrderTable::new(k);
        table.ids.reserve(count as usize * k);
        table.log10_prob.reserve(count as usize);
        let has_backoff = k < max_order;
        let mut seen: FxHashMap<Vec<u32>, ()> = FxHashMap::default();
        for n in 0..count {
            let l = lines.next_nonblank(&format!("{} more {k}-grams", count - n))?;
            let mut fields = l.split(|c| c == '\t' || c == ' ').filter(|f| !f.is_empty());
            let prob_field = fields.next().ok_or_else(|| lines.err("empty n-gram line"))?;
            if prob_field.starts_with('\\') {
                return Err(lines.err(format!(
                    "section ended after {n} {k}-grams but the header declares {count}"
                )));
            }
            let prob = parse_float(&lines, prob_field, "probability")?;
            let start = table.ids.len();
            for j in 0..k {
                let w = fields
                    .next()
                    .ok_or_else(|| lines.err(format!("a {k}-gram needs {k} words, found {j}")))?;
                let id = if k == 1 {
                    if index.contains_key(w) {
                        return Err(lines.err(format!("duplicate unigram {w:?}")));
                    }
                    let id = words.len() as u32;
                    words.push(w.to_owned());
                    index.insert(w.to_owned(), id);
                    id
                } else {
                    *index
                        .get(w)
                        .ok_or_else(|| lines.err(format!("word {w:?} does not appear among the unigrams")))?
                };
                table.ids.push(id);
            }
            let backoff = match fields.next() {
                Some(b) if has_backoff => parse_float(&lines, b, "backoff")?,
                Some(b) => return Err(lines.err(format!("unexpected field {b:?} after a top-order n-gram"))),
                None => 0.0,
            };
            if let Some(extra) = fields.next() {
                return Err(lines.err(format!("unexpected field {extra:?}")));
            }
            if k > 1 && seen.insert(table.ids[start..].to_vec(), ()).is_some() {
                return Err(lines.err(format!("duplicate {k}-gram")));
            }
            table.log10_prob.push(prob);
            if has_backoff {
                table.log10_backoff.push(backoff);
            }
        }
        orders.push(table);
        header = lines.next_nonblank(if k < max_order { "the next n-gram section" } else { "\\end\\" })?;
    }
    if header.trim() != "\\end\\" {
        return Err(lines.err(format!(
            "expected \\end\\ after the declared n-grams, found {header:?} (more entries than declared?)"
        )));
    }
    for required in [BOS_STR, EOS_STR] {
        if !index.contains_key(required) {
            return Err(NgramError::Arpa {
                path: path.to_owned(),
                line: lines.line,
                message: format!("the model has no {required} unigram"),
            });
        }
    }
    if !index.contains_key(UNK_STR) {
        words.push(UNK_STR.to_owned());
        orders[0].ids.push((words.len() - 1) as u32);
        orders[0].log10_prob.push(MISSING_UNK_LOG10);
        if max_order > 1 {
            orders[0].log10_backoff.push(0.0);
        }
    }
    Ok(ArpaModel { words, orders })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const SMALL: &str = "\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1\t<unk>\t0\n0\t<s>\t-0.5\n-0.5\t</s>\t0\n-0.7\ta\t-0.2\n\n\\2-grams:\n-0.3\t<s> a\n-0.1\ta </s>\n\n\\end\\\n";

    fn parse(s: &str) -> Result<ArpaModel, NgramError> {
        parse_arpa(&PathBuf::from("m.arpa"), s.as_bytes())
    }

    #[test]
    fn round_trip() {
        let m = parse(SMALL).unwrap();
        assert_eq!(m.order(), 2);
        let mut out = Vec::new();
        write_arpa(&m, &mut out).unwrap();
        let again = parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn malformed_files_are_errors() {
        let cases: Vec<(String, &str)> = vec![
            (SMALL.replace("-0.7\ta", "x\ta"), "not a number"),
            (SMALL.replace("ngram 2=2", "ngram 2=3"), "declares 3"),
            (SMALL.replace("ngram 2=2", "ngram 2=99999999999"), "but only"),
            (SMALL[..SMALL.len() - 20].to_string(), "unexpected end of file"),
            (SMALL.replace("<s> a", "<s> zz"), "does not appear"),
            (SMALL.replace("\\end\\", ""), "unexpected end of file"),
            ("hello".to_string(), "not an ARPA file"),
            (SMALL.replace("ngram 1=4", "ngram 3=4"), "expected the count of order 1"),
            (SMALL.replace("-0.1\ta </s>", "-0.1\ta"), "needs 2 words"),
            (SMALL.replace("-0.1\ta </s>", "NaN\ta </s>"), "finite"),
            (SMALL.replace("ngram 2=2", "ngram 2=1"), "more entries than declared"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).err().unwrap_or_else(|| panic!("accepted: {text}"));
            let msg = err.to_string();
            assert!(msg.contains(expected) && msg.contains("m.arpa:"), "{msg} / wanted {expected}");
        }
    }
}
