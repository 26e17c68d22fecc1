//! The query tables of a back-off model as one byte image: built in memory from an ARPA model,
//! written as lmgauge's binary n-gram file (`lmgauge ngram build`), and memory-mapped back, so a
//! model loads in milliseconds instead of being parsed and hashed again (KenLM's `build_binary`
//! and probing format play this part for KenLM users).
//!
//! Every n-gram of order 2 and up is a 16-byte slot of an open-addressing table (linear probing,
//! 1.5 slots per n-gram) holding a 64-bit hash of its words, built right to left ([`extend`]),
//! with its log10 probability and backoff beside it: KenLM's probing format. A lookup that matched
//! `w2 … wn` extends the hash by `w1` and probes once more; since no key depends on what an
//! earlier probe found, the processor overlaps the probes' cache misses (keying each n-gram by
//! the slot of its suffix, collision free but a chain of dependent misses, was 1.6× slower).
//! As in KenLM, two distinct n-grams of one order whose 64-bit hashes collide would share a slot;
//! with a million n-grams that chance is about 3 in 10^8, and the build keeps the later entry.
//!
//! File layout, little-endian, every section starting at a multiple of 8 bytes:
//!
//! ```text
//! header   magic "LMGNGRAM", version u32, order u32, words u64, unreachable u64,
//!          vocab slots u64, word bytes u64, checksum u32 (CRC-32 of everything after the
//!          header), flags u32 (bit 0: prefix-closed, see below), then per order 2..=N: slots
//!          u64, n-grams u64
//! words    (words + 1) u64 offsets into the word bytes, then the UTF-8 word bytes
//! vocab    vocab-slots u32: word id + 1 (0 empty), probed from a hash of the word's bytes
//! unigrams words × (log10 prob f32, log10 backoff f32)
//! order k  slots × (key u64, log10 prob f32, log10 backoff f32); empty slots have key u64::MAX
//! ```
//!
//! A model is prefix-closed when every n-gram's first n−1 words are an n-gram of the model too, as
//! lmplz writes them: then a word can extend a match by at most one word more than the previous
//! word matched, and lookups skip the probes that cannot succeed (the build checks the property;
//! without it every order is probed until one misses, which gives the same numbers).
//!
//! Opening checks the magic, version, every size against the file's length (checked arithmetic,
//! before anything is sliced), the checksum, the word offsets and their UTF-8, and the vocabulary
//! slots; a file that fails any check is refused with the reason, and nothing is allocated from
//! a size the file states.

use std::path::Path;

use super::NgramError;

pub const MAGIC: &[u8; 8] = b"LMGNGRAM";
pub const VERSION: u32 = 1;
pub(crate) const FIXED_HEADER: usize = 56;
pub(crate) const SLOT: usize = 16;
pub(crate) const EMPTY: u64 = u64::MAX;

/// The bytes of an image, owned (built from an ARPA model) or mapped from a file.
enum Bytes {
    Owned(Vec<u8>),
    Mapped(crate::models::mapped::Mapped),
}

/// A checked image: its bytes and where each section starts.
pub struct Image {
    bytes: Bytes,
    pub order: usize,
    pub words: usize,
    pub unreachable: usize,
    /// Every n-gram's prefix is an n-gram of the model (header flag bit 0).
    pub prefix_closed: bool,
    offsets: usize,
    blob: usize,
    vocab: (usize, usize),
    unigrams: usize,
    /// Per order 2..=N: where its slots start, and how many there are.
    tables: Vec<(usize, usize)>,
}

impl Image {
    /// Checks `bytes` as an image (see the module documentation); `Err` says what is wrong.
    fn parse(bytes: Bytes) -> Result<Image, String> {
        let b: &[u8] = match &bytes {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        };
        if b.len() < FIXED_HEADER || &b[..8] != MAGIC {
            return Err("not an lmgauge binary n-gram file (no LMGNGRAM header)".into());
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(format!(
                "binary n-gram format version {version}; this lmgauge reads version {VERSION} (build the file again with `lmgauge ngram build`)"
            ));
        }
        let order = u32_at(b, 12) as usize;
        if !(1..=super::arpa::MAX_ORDER).contains(&order) {
            return Err(format!("order {order} is outside 1..={}", super::arpa::MAX_ORDER));
        }
        let (words, unreachable) = (u64_at(b, 16), u64_at(b, 24));
        let (vocab_slots, blob_len, checksum, flags) = (u64_at(b, 32), u64_at(b, 40), u32_at(b, 48), u32_at(b, 52));
        if flags > 1 {
            return Err(format!("unknown flags {flags:#x} in the header"));
        }
        let header = FIXED_HEADER + 16 * (order - 1);
        if b.len() < header {
            return Err(format!(
                "truncated header: {} bytes, the header of an order-{order} model has {header}",
                b.len()
            ));
        }
        if words == 0 || words >= u32::MAX as u64 || vocab_slots <= words || vocab_slots >= u32::MAX as u64 {
            return Err(format!("{words} words in {vocab_slots} vocabulary slots is not a valid vocabulary"));
        }
        // Every size the header states is checked against the file's length before it is used.
        let too_big = || "the sizes in the header overflow".to_string();
        let mut at = header;
        let mut section = |len: Option<u64>| -> Result<usize, String> {
            let start = at;
            let len = len.and_then(|l| usize::try_from(l).ok()).ok_or_else(too_big)?;
            at = at.checked_add(len).and_then(|e| e.checked_next_multiple_of(8)).ok_or_else(too_big)?;
            Ok(start)
        };
        let offsets = section((words + 1).checked_mul(8))?;
        let blob = section(Some(blob_len))?;
        let vocab = section(vocab_slots.checked_mul(4))?;
        let unigrams = section(words.checked_mul(8))?;
        let mut tables = Vec::with_capacity(order - 1);
        for k in 0..order - 1 {
            let (slots, count) = (u64_at(b, FIXED_HEADER + 16 * k), u64_at(b, FIXED_HEADER + 16 * k + 8));
            if slots <= count || slots >= u32::MAX as u64 {
                return Err(format!("order {}: {count} n-grams in {slots} slots", k + 2));
            }
            tables.push((section(slots.checked_mul(SLOT as u64))?, slots as usize));
        }
        if at != b.len() {
            return Err(format!("the header describes {at} bytes but the file has {} (truncated or altered)", b.len()));
        }
        if crc32fast::hash(&b[header..]) != checksum {
            return Err("checksum mismatch: the file is damaged".into());
        }
        let (words, blob_len) = (words as usize, blob_len as usize);
        let word_bytes = &b[blob..blob + blob_len];
        let text = std::str::from_utf8(word_bytes).map_err(|e| format!("word bytes are not UTF-8: {e}"))?;
        let mut previous = 0;
        for i in 0..=words {
            let o = u64_at(b, offsets + 8 * i);
            if o < previous || o > blob_len as u64 || !text.is_char_boundary(o as usize) || (i == 0 && o != 0) {
                return Err(format!("word offset {i} ({o}) is out of order or not at a character boundary"));
            }
            previous = o;
        }
        if previous != blob_len as u64 {
            return Err("the word offsets do not cover the word bytes".into());
        }
        let mut filled = 0usize;
        for i in 0..vocab_slots as usize {
            match u32_at(b, vocab + 4 * i) as usize {
                0 => {}
                v if v > words => return Err(format!("vocabulary slot {i} names a word past the vocabulary")),
                _ => filled += 1,
            }
        }
        if filled != words {
            return Err(format!("{filled} vocabulary slots are filled for {words} words"));
        }
        let vocab = (vocab, vocab_slots as usize);
        let (unreachable, prefix_closed) = (unreachable as usize, flags & 1 == 1);
        let image = Image { bytes, order, words, unreachable, prefix_closed, offsets, blob, vocab, unigrams, tables };
        image.check_vocabulary()?;
        image.check_values()?;
        Ok(image)
    }

    /// Every word must be found by its own text, once: a vocabulary whose slots do not lead to
    /// their words would score `<s>`, `</s>` or any word as another (word 0, say). The three
    /// special words must be there, as the ARPA reader requires of `<s>` and `</s>` and adds
    /// `<unk>` when a file lacks it.
    fn check_vocabulary(&self) -> Result<(), String> {
        for i in 0..self.words as u32 {
            if self.id(self.word(i)) != Some(i) {
                return Err(format!(
                    "the vocabulary slots do not lead to word {i} ({:?}): damaged or hand-made file",
                    self.word(i)
                ));
            }
        }
        for required in [super::vocab::BOS_STR, super::vocab::EOS_STR, super::vocab::UNK_STR] {
            if self.id(required).is_none() {
                return Err(format!("the vocabulary has no {required}"));
            }
        }
        Ok(())
    }

    /// The values the ARPA reader refuses are refused here too, so that a model refused as
    /// text cannot be used by writing it into a binary file: a log10 probability that is NaN,
    /// positive or −∞ (`<s>` aside, which is only ever context), a backoff that is not finite,
    /// any value beyond ±[`super::arpa::MAX_MAGNITUDE`], a non-zero backoff on a top-order n-gram.
    fn check_values(&self) -> Result<(), String> {
        let b = self.bytes();
        let bos = self.id(super::vocab::BOS_STR);
        let top = self.order;
        let limit = super::arpa::MAX_MAGNITUDE;
        let check = |what: &dyn Fn() -> String, prob: f32, backoff: f32, may_be_minus_inf: bool, k: usize| {
            let too_far = |v: f32| v.is_finite() && v.abs() > limit;
            if prob.is_nan() || prob > 0.0 || (prob == f32::NEG_INFINITY && !may_be_minus_inf) || too_far(prob) {
                return Err(format!(
                    "{} has log10 probability {prob}; a probability must be finite, at most 1 (log10 ≤ 0) and above 10^-{limit:e}",
                    what()
                ));
            }
            if !backoff.is_finite() || too_far(backoff) || (k == top && backoff != 0.0) {
                return Err(format!(
                    "{} has log10 backoff {backoff}; backoffs must be finite, within ±{limit:e}, and 0 on the top order ({top})",
                    what()
                ));
            }
            Ok(())
        };
        for id in 0..self.words as u32 {
            let (p, bo) = self.unigram(id);
            check(&|| format!("unigram {:?}", self.word(id)), p, bo, Some(id) == bos, 1)?;
        }
        for (level, &(start, slots)) in self.tables.iter().enumerate() {
            for i in 0..slots {
                let at = start + SLOT * i;
                if u64_at(b, at) != EMPTY {
                    let (p, bo) = (f32_at(b, at + 8), f32_at(b, at + 12));
                    check(&|| format!("{}-gram slot {i}", level + 2), p, bo, false, level + 2)?;
                }
            }
        }
        Ok(())
    }

    /// Maps a binary n-gram file and checks it.
    pub fn open(path: &Path) -> Result<Image, NgramError> {
        let file = std::fs::File::open(path).map_err(|e| NgramError::io(path, e))?;
        // Every read is bounds-checked; a file shrunk under the map ends in a clear error
        // (`models::mapped`), not a SIGBUS.
        let map = crate::models::mapped::Mapped::open(&file, path, true).map_err(|e| NgramError::io(path, e))?;
        Image::parse(Bytes::Mapped(map)).map_err(|message| NgramError::Binary { path: path.to_owned(), message })
    }

    /// Writes the image to `path` (through a uniquely named temporary file, renamed when
    /// complete: a file in use by another process keeps its old bytes, never shrinks under it).
    pub fn write(&self, path: &Path) -> Result<(), NgramError> {
        crate::data::atomic::write(path, self.bytes()).map_err(|e| NgramError::io(path, e))
    }

    fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }

    /// The text of word `id`.
    pub fn word(&self, id: u32) -> &str {
        // Checked when the image was opened: offsets ordered, in range and at character boundaries.
        std::str::from_utf8(self.word_bytes(id)).unwrap_or("")
    }

    fn word_bytes(&self, id: u32) -> &[u8] {
        let b = self.bytes();
        let (start, end) = (u64_at(b, self.offsets + 8 * id as usize), u64_at(b, self.offsets + 8 * id as usize + 8));
        &b[self.blob + start as usize..self.blob + end as usize]
    }

    /// The id of `word`, if the vocabulary has it.
    pub fn id(&self, word: &str) -> Option<u32> {
        let (start, slots) = self.vocab;
        let b = self.bytes();
        for i in probe(bucket(mix(hash_word(word.as_bytes())), slots), slots) {
            match u32_at(b, start + 4 * i) {
                0 => return None,
                v if self.word_bytes(v - 1) == word.as_bytes() => return Some(v - 1),
                _ => {}
            }
        }
        None
    }

    /// log10 probability and backoff of unigram `id`.
    pub fn unigram(&self, id: u32) -> (f32, f32) {
        let at = self.unigrams + 8 * id as usize;
        (f32_at(self.bytes(), at), f32_at(self.bytes(), at + 4))
    }

    /// The n-gram of order `level + 2` with hash `key` ([`extend`]): its log10 probability and
    /// backoff.
    #[inline]
    pub fn find(&self, level: usize, key: u64) -> Option<(f32, f32)> {
        let (start, slots) = self.tables[level];
        let b = self.bytes();
        for i in probe(bucket(key, slots), slots) {
            let at = start + SLOT * i;
            match u64_at(b, at) {
                k if k == key => return Some((f32_at(b, at + 8), f32_at(b, at + 12))),
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// An image laid out in memory (by `image_build`), checked as a file would be.
    pub(super) fn from_owned(bytes: Vec<u8>) -> Result<Image, String> {
        Image::parse(Bytes::Owned(bytes))
    }
}

/// The hash of an n-gram one word longer on the left: `extend(hash of w2 … wn, w1)`; the hash of
/// a single word is its id. Part of the file format. Never `EMPTY`, the empty slot's key.
#[inline]
pub fn extend(hash: u64, word: u32) -> u64 {
    let h = mix(hash.rotate_left(23) ^ (word as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    if h == EMPTY { h - 1 } else { h }
}

/// splitmix64's finaliser: keys that differ in a few bits land far apart.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Linear probing from `first`: every slot once, wrapping at the end, so a search ends even in a
/// table (from a damaged file) with no empty slot.
#[inline]
pub(crate) fn probe(first: usize, slots: usize) -> impl Iterator<Item = usize> {
    (first..slots).chain(0..first)
}

/// The hash of an n-gram given as word ids, first word first ([`extend`] from the last word).
pub(crate) fn ngram_hash(words: &[u32]) -> u64 {
    match words.split_last() {
        Some((&last, rest)) => rest.iter().rev().fold(last as u64, |h, &w| extend(h, w)),
        None => EMPTY,
    }
}

/// The first slot to probe for a hash among `slots` (multiply-shift, no division).
#[inline]
pub(crate) fn bucket(hash: u64, slots: usize) -> usize {
    ((hash as u128 * slots as u128) >> 64) as usize
}

/// A hash of a word's bytes, eight at a time (then [`mix`]ed): part of the file format, so
/// fixed here rather than taken from a hasher whose output may change between versions.
pub(crate) fn hash_word(bytes: &[u8]) -> u64 {
    let step = |h: u64, chunk: u64| (h ^ chunk).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let mut h = 0x243f_6a88_85a3_08d3 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = step(h, u64::from_le_bytes(c.try_into().expect("eight bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(tail));
    }
    h
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}
