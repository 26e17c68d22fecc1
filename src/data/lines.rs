//! Streaming line reader for dataset files, plain or gzip-compressed, with bounds checked while
//! it reads: a line may hold at most [`MAX_LINE_BYTES`], and gzip data may inflate to at most
//! [`MAX_GZIP_RATIO`] times its compressed size (never less than [`GZIP_ALLOWANCE`]).
//!
//! Without the bounds a 10 MB `.jsonl.gz` that inflates to one 10 GiB line aborted the process
//! on allocation, and one that inflates to ten billion blank lines ran for an hour. Both are now
//! refused with the file, the line and the bound passed, after reading no more than the bound.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::DataError;

/// The longest line a dataset may hold (64 MiB): a whole novel fits on one line many times over.
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// Text and JSON Lines compress 3–15×; data inflating past this ratio is a decompression bomb.
pub const MAX_GZIP_RATIO: u64 = 100;
/// Inflated bytes always allowed, whatever the ratio: small files of repetitive data may
/// compress far better than the ratio allows and still be harmless.
pub const GZIP_ALLOWANCE: u64 = 256 << 20;

/// The most bytes a gzip file of `compressed` bytes may inflate to.
pub fn gzip_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(MAX_GZIP_RATIO).max(GZIP_ALLOWANCE)
}

/// A marker inside the `io::Error` a [`Bounded`] reader returns, so the error can say which
/// bound was passed rather than "corrupt data".
#[derive(Debug)]
struct InflatedTooFar(u64);

impl std::fmt::Display for InflatedTooFar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "inflates past {} bytes", self.0)
    }
}

impl std::error::Error for InflatedTooFar {}

/// A reader that fails once more than `limit` bytes have come out of it.
pub struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Bounded { inner, read: 0, limit }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(InflatedTooFar(self.limit)));
        }
        Ok(n)
    }
}

/// The lines of a dataset file, each without its `\n` (and `\r`), numbered from 1.
pub struct Lines {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    gzip: bool,
    line: usize,
    buf: Vec<u8>,
}

impl Lines {
    /// Opens `path`; a name ending in `.gz` is inflated as it is read.
    pub fn open(path: &Path) -> Result<Lines, DataError> {
        let io = |source| DataError::Io { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let gzip = path.to_string_lossy().ends_with(".gz");
        let reader: Box<dyn BufRead> = if gzip {
            let limit = gzip_limit(file.metadata().map_err(io)?.len());
            Box::new(BufReader::with_capacity(1 << 16, Bounded::new(flate2::read::MultiGzDecoder::new(file), limit)))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        Ok(Lines { path: path.to_owned(), reader, gzip, line: 0, buf: Vec::new() })
    }

    /// The next line that is not empty, as (1-based number, bytes), or `None` at the end of the
    /// file. Empty lines are counted and passed over a buffer at a time (a gzip file of nothing
    /// but newlines took minutes per compressed megabyte when each was read as a line); lines of
    /// spaces are returned, for the caller to judge.
    pub fn next_line(&mut self) -> Result<Option<(usize, &[u8])>, DataError> {
        loop {
            let newlines = match self.reader.fill_buf() {
                Ok(buf) => buf.iter().take_while(|&&b| b == b'\n').count(),
                Err(e) => return Err(self.read_error(e)),
            };
            if newlines == 0 {
                break;
            }
            self.reader.consume(newlines);
            self.line += newlines;
        }
        self.buf.clear();
        self.line += 1;
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut self.reader).take(limit).read_until(b'\n', &mut self.buf).map_err(|e| self.read_error(e))?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE_BYTES {
            return Err(DataError::Line {
                path: self.path.clone(),
                line: self.line,
                message: format!(
                    "the line is longer than {} MiB, the most a dataset line may hold",
                    MAX_LINE_BYTES >> 20
                ),
            });
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.line, &self.buf)))
    }

    fn read_error(&self, e: std::io::Error) -> DataError {
        let (path, line) = (self.path.clone(), self.line);
        if let Some(InflatedTooFar(limit)) = e.get_ref().and_then(|i| i.downcast_ref::<InflatedTooFar>()) {
            let message = format!(
                "the gzip data inflates past {limit} bytes ({MAX_GZIP_RATIO}× its compressed size, at least {} MiB): refused as a decompression bomb",
                GZIP_ALLOWANCE >> 20
            );
            return DataError::Line { path, line, message };
        }
        if self.gzip {
            return DataError::Line { path, line, message: format!("corrupt gzip data: {e}") };
        }
        DataError::Io { path, source: e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        w.write_all(bytes).unwrap();
        w.finish().unwrap()
    }

    fn all(path: &Path) -> Result<Vec<(usize, String)>, DataError> {
        let mut lines = Lines::open(path)?;
        let mut out = Vec::new();
        while let Some((n, l)) = lines.next_line()? {
            out.push((n, String::from_utf8_lossy(l).into_owned()));
        }
        Ok(out)
    }

    #[test]
    fn plain_and_gzip_lines_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"a\r\n\nb c\nlast";
        std::fs::write(dir.path().join("x.jsonl"), text).unwrap();
        std::fs::write(dir.path().join("x.jsonl.gz"), gz(text)).unwrap();
        let want = vec![(1, "a".into()), (3, "b c".into()), (4, "last".into())];
        assert_eq!(all(&dir.path().join("x.jsonl")).unwrap(), want);
        assert_eq!(all(&dir.path().join("x.jsonl.gz")).unwrap(), want);
    }

    #[test]
    fn a_line_past_the_bound_is_refused_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut long = vec![b'x'; MAX_LINE_BYTES + 10];
        long.push(b'\n');
        let path = dir.path().join("long.jsonl.gz");
        std::fs::write(&path, gz(&[b"ok\n".as_slice(), &long].concat())).unwrap();
        let e = all(&path).unwrap_err().to_string();
        assert!(e.contains("long.jsonl.gz:2") && e.contains("longer than 64 MiB"), "{e}");
    }

    #[test]
    fn runs_of_empty_lines_are_counted_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blank.jsonl");
        let mut text = vec![b'\n'; 200_000];
        text.extend_from_slice(b"x\n\n  \ny");
        std::fs::write(&path, text).unwrap();
        assert_eq!(all(&path).unwrap(), vec![(200_001, "x".into()), (200_003, "  ".into()), (200_004, "y".into())]);
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.jsonl.gz");
        // 300 MiB of blank lines compress to about 300 KB: 1000×, past the bound.
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b'\n'; 1 << 20];
        for _ in 0..300 {
            w.write_all(&chunk).unwrap();
        }
        std::fs::write(&path, w.finish().unwrap()).unwrap();
        let e = all(&path).unwrap_err().to_string();
        assert!(e.contains("bomb.jsonl.gz:") && e.contains("decompression bomb"), "{e}");
    }

    #[test]
    fn corrupt_gzip_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl.gz");
        let mut bytes = gz(b"{\"a\": 1}\n");
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        bytes.truncate(n - 4);
        std::fs::write(&path, bytes).unwrap();
        let e = all(&path).unwrap_err().to_string();
        assert!(e.contains("bad.jsonl.gz:") && e.contains("corrupt gzip"), "{e}");
    }
}
