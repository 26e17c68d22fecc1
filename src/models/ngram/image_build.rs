//! Lays an ARPA model out as a query image (the format is described in [`super::image`]): the
//! vocabulary and its hash slots, the unigrams by word id, and one probing table per higher
//! order, each n-gram keyed by the hash of its words.

use super::ArpaModel;
use super::image::{
    EMPTY, FIXED_HEADER, Image, MAGIC, SLOT, VERSION, bucket, extend, hash_word, mix, ngram_hash, probe,
};

/// One order's open-addressing table while it is filled.
struct Table {
    keys: Vec<u64>,
    values: Vec<(f32, f32)>,
    count: usize,
}

impl Table {
    /// 1.5 slots per n-gram, and always one empty slot, so every probe sequence ends.
    fn with_room_for(n: usize) -> Table {
        let slots = n + n / 2 + 1;
        Table { keys: vec![EMPTY; slots], values: vec![(0.0, 0.0); slots], count: 0 }
    }

    fn position(&self, key: u64) -> (usize, bool) {
        let slots = self.keys.len();
        probe(bucket(key, slots), slots)
            .find_map(|i| match self.keys[i] {
                k if k == key => Some((i, true)),
                EMPTY => Some((i, false)),
                _ => None,
            })
            .expect("a table always has an empty slot")
    }

    fn contains(&self, key: u64) -> bool {
        self.position(key).1
    }

    /// A repeated n-gram keeps the values read last, as a map insertion would.
    fn insert(&mut self, key: u64, value: (f32, f32)) {
        let (i, present) = self.position(key);
        if !present {
            self.keys[i] = key;
            self.count += 1;
        }
        self.values[i] = value;
    }
}

/// The query image of `model`.
pub(super) fn image(model: &ArpaModel) -> Image {
    Image::from_owned(bytes(model)).expect("an image laid out here passes its own checks")
}

/// The image bytes of `model`.
fn bytes(model: &ArpaModel) -> Vec<u8> {
    let words = model.words.len();
    let vocab_slots = words + words / 2 + 1;
    let mut vocab = vec![0u32; vocab_slots];
    for (id, word) in model.words.iter().enumerate() {
        // A word listed twice keeps its last id, as a map built from the list would.
        let i = probe(bucket(mix(hash_word(word.as_bytes())), vocab_slots), vocab_slots)
            .find(|&i| vocab[i] == 0 || model.words[vocab[i] as usize - 1] == *word)
            .expect("the vocabulary always has an empty slot");
        vocab[i] = id as u32 + 1;
    }
    let mut unigrams = vec![(0f32, 0f32); words];
    let uni = &model.orders[0];
    for i in 0..uni.len() {
        unigrams[uni.gram(i)[0] as usize] = (uni.log10_prob[i], uni.log10_backoff.get(i).copied().unwrap_or(0.0));
    }
    let mut tables: Vec<Table> = Vec::with_capacity(model.order().saturating_sub(1));
    let mut unreachable = 0u64;
    for table in &model.orders[1..] {
        let k = table.order;
        let mut filled = Table::with_room_for(table.len());
        for i in 0..table.len() {
            let gram = table.gram(i);
            let suffix = ngram_hash(&gram[1..]);
            // A lookup stops at the first missing n-gram, so one whose suffix is absent is never
            // reached (KenLM's lookup skips it the same way).
            if k > 2 && !tables[k - 3].contains(suffix) {
                unreachable += 1;
                continue;
            }
            filled.insert(
                extend(suffix, gram[0]),
                (table.log10_prob[i], table.log10_backoff.get(i).copied().unwrap_or(0.0)),
            );
        }
        tables.push(filled);
    }

    // Prefix-closed: each n-gram's first n-1 words are in the table one order down.
    let prefix_closed = model.orders[1..].iter().all(|table| {
        let k = table.order;
        (0..table.len()).all(|i| k == 2 || tables[k - 3].contains(ngram_hash(&table.gram(i)[..k - 1])))
    });
    let blob: Vec<u8> = model.words.iter().flat_map(|w| w.bytes()).collect();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    put32(&mut out, VERSION);
    put32(&mut out, model.order() as u32);
    for v in [words, unreachable as usize, vocab_slots, blob.len()] {
        put64(&mut out, v as u64);
    }
    put32(&mut out, 0); // checksum, filled in below
    put32(&mut out, prefix_closed as u32);
    debug_assert_eq!(out.len(), FIXED_HEADER);
    for t in &tables {
        put64(&mut out, t.keys.len() as u64);
        put64(&mut out, t.count as u64);
    }
    let header = out.len();
    let mut offset = 0u64;
    put64(&mut out, 0);
    for w in &model.words {
        offset += w.len() as u64;
        put64(&mut out, offset);
    }
    out.extend_from_slice(&blob);
    pad(&mut out);
    vocab.iter().for_each(|&v| put32(&mut out, v));
    pad(&mut out);
    for (p, b) in unigrams {
        put32(&mut out, p.to_bits());
        put32(&mut out, b.to_bits());
    }
    for t in &tables {
        out.reserve(t.keys.len() * SLOT);
        for (k, (p, b)) in t.keys.iter().zip(&t.values) {
            put64(&mut out, *k);
            put32(&mut out, p.to_bits());
            put32(&mut out, b.to_bits());
        }
    }
    let checksum = crc32fast::hash(&out[header..]);
    out[48..52].copy_from_slice(&checksum.to_le_bytes());
    out
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(8), 0);
}
