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

/// The largest magnitude a log10 probability or backoff may have. A word's score is its
/// probability plus up to `MAX_ORDER − 1` backoffs, summed in f32 as KenLM sums them; values past
/// f32::MAX / 64 could overflow that sum to −∞ (an infinite perplexity from finite numbers). No
/// estimator writes anything near 10^±30 in log10 (a "never" floor is −99), so 1e30 is refused.
pub const MAX_MAGNITUDE: f32 = 1e30;
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

/// Writes an ARPA file whole or not at all (`data::atomic`: a uniquely named temporary file).
pub fn write_arpa_file(model: &ArpaModel, path: &Path) -> Result<(), NgramError> {
    crate::data::atomic::write_with(path, |mut w| write_arpa(model, &mut w)).map_err(|e| NgramError::io(path, e))
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

#[derive(Clone, Copy)]
struct Lines<'a> {
    path: &'a Path,
    rest: &'a str,
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
        let (line, rest) = match self.rest.find('\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        self.line += 1;
        Ok(Some(line.strip_suffix('\r').unwrap_or(line)))
    }

    /// The next line that is not blank, or an error naming what was expected.
    fn next_nonblank(&mut self, expected: &str) -> Result<&'a str, NgramError> {
        self.next_nonblank_with(|| expected.to_owned())
    }

    /// Like [`Self::next_nonblank`], building the message only when it is needed.
    fn next_nonblank_with(&mut self, expected: impl FnOnce() -> String) -> Result<&'a str, NgramError> {
        loop {
            match self.next()? {
                Some(l) if l.bytes().all(|b| b.is_ascii_whitespace()) => continue,
                Some(l) => return Ok(l),
                None => return Err(self.err(format!("unexpected end of file, expected {}", expected()))),
            }
        }
    }
}

fn parse_float(lines: &Lines, field: &str, what: &str) -> Result<f32, NgramError> {
    if let Some(v) = parse_short_decimal(field) {
        return Ok(v);
    }
    let v: f32 = fast_float2::parse(field).map_err(|_| lines.err(format!("{what} is not a number: {field:?}")))?;
    if v.is_nan() {
        return Err(lines.err(format!("{what} must be a finite log10 value, got {field:?}")));
    }
    Ok(v)
}

/// A log10 probability as KenLM's reader takes it: positive values are refused (KenLM's default,
/// "Positive log probability … in the model"), and so is -inf (or a value beyond f32, such as
/// -1e400), which KenLM loads but which makes every text that reaches it infinitely improbable:
/// perplexity would be infinite. The one exception is `<s>`, whose probability is never used
/// (it is only ever context) and which some toolkits write as -inf.
fn check_probability(lines: &Lines, field: &str, prob: f32, word: Option<&str>) -> Result<(), NgramError> {
    if prob > 0.0 {
        return Err(lines.err(format!(
            "positive log10 probability {field:?} (a probability above 1); KenLM refuses such models too (a bug in the tool that wrote it?)"
        )));
    }
    if prob == f32::NEG_INFINITY && word != Some(BOS_STR) {
        return Err(lines.err(format!(
            "log10 probability {field:?} is -infinity (or beyond f32's range); scoring would give an infinite perplexity: use a finite floor such as -99"
        )));
    }
    if prob.is_finite() && prob.abs() > MAX_MAGNITUDE {
        return Err(lines.err(format!(
            "log10 probability {field:?} is beyond ±{MAX_MAGNITUDE:e}: sums of such values overflow; use a floor such as -99"
        )));
    }
    Ok(())
}

/// Parses an ARPA file already in memory; `path` is only used in messages.
pub fn parse_arpa(path: &Path, bytes: &[u8]) -> Result<ArpaModel, NgramError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        NgramError::Arpa { path: path.to_owned(), line, message: "invalid UTF-8".into() }
    })?;
    let mut lines = Lines { path, rest: text, line: 0 };
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
        let (k, count) = spec.split_once('=').ok_or_else(|| lines.err(format!("malformed count line {l:?}")))?;
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
            return Err(lines.err(format!("{count} {k}-grams declared, but only {} bytes follow", lines.rest.len())));
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
    expect_header(&lines, first_section, 1)?;
    orders.push(parse_section(&mut lines, 1, declared[0], max_order > 1, Vocab::Build(&mut words, &mut index))?);
    let after_unigrams = lines;
    // Higher orders only read the vocabulary: parse them in parallel when the sections can be
    // located; on any problem, the sequential pass below finds and reports it exactly.
    match parse_sections_parallel(lines, &declared, &index) {
        Ok((tables, end)) => {
            orders.extend(tables);
            lines = end;
        }
        Err(_) => {
            lines = after_unigrams;
            for (k0, &count) in declared.iter().enumerate().skip(1) {
                let k = k0 + 1;
                let header = lines.next_nonblank("the next n-gram section")?;
                expect_header(&lines, header, k)?;
                orders.push(parse_section(&mut lines, k, count, k < max_order, Vocab::Lookup(&index))?);
            }
        }
    }
    let header = lines.next_nonblank("\\end\\")?;
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

/// Clinger's fast path for the decimals ARPA files are made of (`-1.2345678`, `0`, `-99`): a
/// mantissa below 2^24 and at most 10 fractional digits divide exactly representable `f32`s, so
/// the IEEE quotient is the correctly rounded value, as a full parser would give. Anything else
/// returns `None` for the general parser.
fn parse_short_decimal(s: &str) -> Option<f32> {
    const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
    let b = s.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let mut mantissa: u32 = 0;
    let mut frac: Option<usize> = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add((c - b'0') as u32)?;
                if mantissa >= 1 << 24 {
                    return None;
                }
            }
            b'.' if frac.is_none() && i > 0 && i + 1 < digits.len() => frac = Some(digits.len() - i - 1),
            _ => return None,
        }
    }
    let k = frac.unwrap_or(0);
    if k >= POW10.len() {
        return None;
    }
    let v = mantissa as f32 / POW10[k];
    Some(if neg { -v } else { v })
}

/// Space- or tab-separated fields, split on bytes (both separators are ASCII).
struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.rest.as_bytes();
        let start = bytes.iter().position(|&b| b != b' ' && b != b'\t')?;
        let len = bytes[start..].iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(bytes.len() - start);
        let field = &self.rest[start..start + len];
        self.rest = &self.rest[start + len..];
        Some(field)
    }
}

fn expect_header(lines: &Lines, header: &str, k: usize) -> Result<(), NgramError> {
    let h = header.trim();
    if h.strip_prefix('\\').and_then(|r| r.strip_suffix("-grams:")) != Some(k.to_string().as_str()) {
        return Err(lines.err(format!("expected \\{k}-grams:, found {header:?}")));
    }
    Ok(())
}

enum Vocab<'a> {
    /// The unigram section defines the words.
    Build(&'a mut Vec<String>, &'a mut FxHashMap<String, u32>),
    /// Higher orders look them up.
    Lookup(&'a FxHashMap<String, u32>),
}

/// Parses the `count` entries of the `k`-gram section that `lines` is positioned in.
fn parse_section(
    lines: &mut Lines,
    k: usize,
    count: u64,
    has_backoff: bool,
    mut vocab: Vocab,
) -> Result<OrderTable, NgramError> {
    let mut table = OrderTable::new(k);
    table.ids.reserve(count as usize * k);
    table.log10_prob.reserve(count as usize);
    let mut seen: FxHashMap<u64, u32> = FxHashMap::default();
    if k > 1 {
        seen.reserve(count as usize);
    }
    for n in 0..count {
        let l = lines.next_nonblank_with(|| format!("{} more {k}-grams", count - n))?;
        let mut fields = Fields { rest: l };
        let prob_field = fields.next().ok_or_else(|| lines.err("empty n-gram line"))?;
        if prob_field.starts_with('\\') {
            return Err(lines.err(format!("section ended after {n} {k}-grams but the header declares {count}")));
        }
        let prob = parse_float(lines, prob_field, "probability")?;
        let start = table.ids.len();
        let mut last_word = "";
        for j in 0..k {
            let w = fields.next().ok_or_else(|| lines.err(format!("a {k}-gram needs {k} words, found {j}")))?;
            last_word = w;
            let id = match &mut vocab {
                Vocab::Build(words, index) => {
                    if index.contains_key(w) {
                        return Err(lines.err(format!("duplicate unigram {w:?}")));
                    }
                    let id = words.len() as u32;
                    words.push(w.to_owned());
                    index.insert(w.to_owned(), id);
                    id
                }
                Vocab::Lookup(index) => {
                    *index.get(w).ok_or_else(|| lines.err(format!("word {w:?} does not appear among the unigrams")))?
                }
            };
            table.ids.push(id);
        }
        check_probability(lines, prob_field, prob, (k == 1).then_some(last_word))?;
        let backoff = match fields.next() {
            Some(b) if has_backoff => {
                let v = parse_float(lines, b, "backoff")?;
                if v.is_infinite() {
                    return Err(lines.err(format!("bad backoff {b:?}: KenLM refuses infinite backoffs too")));
                }
                if v.abs() > MAX_MAGNITUDE {
                    return Err(
                        lines.err(format!("backoff {b:?} is beyond ±{MAX_MAGNITUDE:e}: sums of such values overflow"))
                    );
                }
                v
            }
            // KenLM accepts a zero backoff on a top-order n-gram, and nothing else there.
            Some(b) if parse_float(lines, b, "backoff").is_ok_and(|v| v == 0.0) => 0.0,
            Some(b) => {
                return Err(lines
                    .err(format!("unexpected field {b:?} after a top-order n-gram (only a zero backoff may follow)")));
            }
            None => 0.0,
        };
        if let Some(extra) = fields.next() {
            return Err(lines.err(format!("unexpected field {extra:?}")));
        }
        if k > 1 {
            let gram = &table.ids[start..];
            let h = hash_ids(gram);
            match seen.get(&h) {
                Some(&other) if &table.ids[other as usize * k..other as usize * k + k] == gram => {
                    return Err(lines.err(format!("duplicate {k}-gram")));
                }
                Some(_) => {} // a hash collision between different n-grams: nothing to report
                None => {
                    seen.insert(h, table.log10_prob.len() as u32);
                }
            }
        }
        table.log10_prob.push(prob);
        if has_backoff {
            table.log10_backoff.push(backoff);
        }
    }
    Ok(table)
}

/// Finds the sections of orders 2 and up and parses them concurrently. Returns the tables and
/// the reader positioned after the last section, or `Err(())` when anything is off.
fn parse_sections_parallel<'a>(
    lines: Lines<'a>,
    declared: &[u64],
    index: &FxHashMap<String, u32>,
) -> Result<(Vec<OrderTable>, Lines<'a>), ()> {
    use rayon::prelude::*;
    let text = lines.rest;
    let max_order = declared.len();
    let mut bounds = Vec::new(); // (k, body start, body end)
    let mut cursor = 0;
    let mut body_start: Option<(usize, usize)> = None;
    for k in 2..=max_order + 1 {
        let marker = if k <= max_order { format!("\\{k}-grams:") } else { "\\end\\".to_owned() };
        let found = text[cursor..].find(&marker).ok_or(())? + cursor;
        if found > 0 && text.as_bytes()[found - 1] != b'\n' {
            return Err(());
        }
        if let Some((prev_k, prev_start)) = body_start {
            bounds.push((prev_k, prev_start, found));
        } else if !text[..found].bytes().all(|b| b.is_ascii_whitespace()) {
            return Err(());
        }
        let line_end = text[found..].find('\n').map(|i| found + i + 1).unwrap_or(text.len());
        body_start = Some((k, line_end));
        cursor = line_end;
    }
    let tables: Result<Vec<OrderTable>, ()> = bounds
        .par_iter()
        .map(|&(k, start, end)| {
            // Line numbers only matter for errors, which the sequential pass reports.
            let mut section = Lines { path: lines.path, rest: &text[start..end], line: 0 };
            let table =
                parse_section(&mut section, k, declared[k - 1], k < max_order, Vocab::Lookup(index)).map_err(|_| ())?;
            if section.rest.bytes().all(|b| b.is_ascii_whitespace()) { Ok(table) } else { Err(()) }
        })
        .collect();
    // Position after the last section body, just before the \end\ line.
    let (_, last_end) = body_start.ok_or(())?;
    let end_line_start = text[..last_end].rfind("\\end\\").ok_or(())?;
    let line = lines.line + memchr::memchr_iter(b'\n', &text.as_bytes()[..end_line_start]).count();
    Ok((tables?, Lines { path: lines.path, rest: &text[end_line_start..], line }))
}

fn hash_ids(ids: &[u32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    ids.hash(&mut h);
    h.finish()
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
    fn short_decimals_parse_exactly() {
        for s in ["-1.2345678", "0", "-0.30103", "-99", "12.5", "-0.0000001", "16777215"] {
            assert_eq!(parse_short_decimal(s), Some(s.parse::<f32>().unwrap()), "{s}");
        }
        for s in ["1e-5", "-", "", ".5", "5.", "1.2.3", "16777216", "-1.23456789", "inf", "NaN"] {
            assert_eq!(parse_short_decimal(s), None, "{s}");
        }
        // Exhaustive over a sample of 8-digit mantissas.
        for m in (0..16_777_215u32).step_by(9973) {
            let s = format!("-{}.{:07}", m / 10_000_000, m % 10_000_000);
            assert_eq!(parse_short_decimal(&s), Some(s.parse::<f32>().unwrap()), "{s}");
        }
    }

    #[test]
    fn kenlm_tolerances_are_kept() {
        // KenLM accepts a zero backoff after a top-order n-gram; some toolkits write -inf for
        // <s>, whose probability is never used.
        let m = parse(&SMALL.replace("-0.1\ta </s>", "-0.1\ta </s>\t0").replace("0\t<s>", "-inf\t<s>")).unwrap();
        assert_eq!(m.orders[0].log10_prob[1], f32::NEG_INFINITY);
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
            (SMALL.replace("-0.1\ta </s>", "-0.1\t<s> a"), "duplicate 2-gram"),
            (SMALL.replace("-0.1\ta </s>", "-inf\ta </s>"), "-infinity"),
            (SMALL.replace("-0.1\ta </s>", "-1e400\ta </s>"), "-infinity"),
            (SMALL.replace("-0.7\ta", "0.25\ta"), "positive log10 probability"),
            (SMALL.replace("-0.7\ta", "inf\ta"), "positive log10 probability"),
            (SMALL.replace("-0.7\ta", "-1e35\ta"), "beyond ±1e30"),
            (SMALL.replace("-0.7\ta\t-0.2", "-0.7\ta\t-inf"), "bad backoff"),
            (SMALL.replace("-0.1\ta </s>", "-0.1\ta </s>\t-0.5"), "only a zero backoff"),
        ];
        for (text, expected) in cases {
            let err = parse(&text).err().unwrap_or_else(|| panic!("accepted: {text}"));
            let msg = err.to_string();
            assert!(msg.contains(expected) && msg.contains("m.arpa:"), "{msg} / wanted {expected}");
        }
    }
}
