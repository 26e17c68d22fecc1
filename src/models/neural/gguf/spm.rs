//! llama.cpp's SentencePiece tokenizer (`tokenizer.ggml.model = llama`: Llama 2, Mistral, Gemma),
//! reproduced step for step from its `llm_tokenizer_spm_session` and `tokenizer_st_partition`,
//! because the scores llama.cpp and lmgauge report are only comparable on the same token ids.
//!
//! 1. The text is cut at every user-defined token (`token_type` 4: Gemma's whitespace runs and
//!    HTML tags), longest token first, each found left to right in what is still raw text;
//!    control and unknown tokens are not looked for (llama.cpp's `parse_special = false`).
//! 2. Each raw fragment, with a space before it when `add_space_prefix` says so and it starts
//!    the text or follows a special token, has its spaces written as `▁`, is split into UTF-8
//!    characters, and adjacent symbols are merged, highest-scoring resulting vocabulary entry
//!    first (the leftmost among equal scores), until no adjacent pair forms an entry.
//! 3. A symbol that is no entry (a character outside the vocabulary) becomes its bytes'
//!    `<0xXX>` tokens.
//!
//! Decoding is llama.cpp's `token_to_piece` without special tokens: `▁` back to spaces, byte
//! tokens to their bytes, control tokens left out.

use std::collections::{BinaryHeap, HashMap};

use crate::models::neural::hf::Encoded;

const NORMAL: u8 = 1;
const UNKNOWN: u8 = 2;
const CONTROL: u8 = 3;
const USER_DEFINED: u8 = 4;
const BYTE: u8 = 6;

pub struct SpmTokenizer {
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<u8>,
    ids: HashMap<String, u32>,
    /// User-defined tokens, longest first (ties by id), as the partition looks for them.
    user_defined: Vec<u32>,
    add_space_prefix: bool,
}

/// A piece of the text: `(start, end)` bytes of the original, and its token if it is a special
/// one found by the partition.
type Fragment = (usize, usize, Option<u32>);

#[derive(Clone, Copy)]
struct Symbol {
    /// Byte range in the escaped fragment.
    start: usize,
    len: usize,
    /// Byte range in the original text.
    span: (usize, usize),
    prev: isize,
    next: isize,
}

#[derive(PartialEq)]
struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    /// llama.cpp's `llm_bigram_spm::comparator` turned into the order of a max-heap: higher
    /// score first, then the smaller left index.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl SpmTokenizer {
    /// The vocabulary with its scores and types (ids are positions); `None` for an id that
    /// appears twice.
    pub fn new(tokens: Vec<String>, scores: Vec<f32>, types: Vec<u8>, add_space_prefix: bool) -> Result<Self, String> {
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            if ids.insert(t.clone(), id as u32).is_some() {
                return Err(format!("tokenizer.ggml.tokens[{id}] {t:?} appears twice"));
            }
        }
        let mut user_defined: Vec<u32> = (0..tokens.len() as u32)
            .filter(|&i| types[i as usize] == USER_DEFINED && !tokens[i as usize].is_empty())
            .collect();
        user_defined.sort_by(|&a, &b| tokens[b as usize].len().cmp(&tokens[a as usize].len()).then(a.cmp(&b)));
        Ok(SpmTokenizer { tokens, scores, types, ids, user_defined, add_space_prefix })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn token_to_id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Token ids of `text` (no BOS), each with the byte span of the original text it covers.
    pub fn encode(&self, text: &str) -> Encoded {
        let mut out = Encoded::default();
        let mut prev_special = true;
        for (start, end, special) in self.partition(text) {
            match special {
                Some(id) => {
                    out.ids.push(i64::from(id));
                    out.spans.push((start, end));
                    prev_special = true;
                }
                None => {
                    self.tokenize_fragment(text, start, end, self.add_space_prefix && prev_special, &mut out);
                    prev_special = false;
                }
            }
        }
        out.words = vec![None; out.ids.len()];
        out
    }

    /// Splits the text at user-defined tokens, as `tokenizer_st_partition` does.
    fn partition(&self, text: &str) -> Vec<Fragment> {
        let mut fragments: Vec<Fragment> = if text.is_empty() { Vec::new() } else { vec![(0, text.len(), None)] };
        for &id in &self.user_defined {
            let needle = self.tokens[id as usize].as_str();
            let mut next = Vec::with_capacity(fragments.len());
            for (start, end, special) in fragments {
                if special.is_some() {
                    next.push((start, end, special));
                    continue;
                }
                let mut from = start;
                while let Some(at) = text[..end].get(from..).and_then(|s| s.find(needle)) {
                    let at = from + at;
                    if at > from {
                        next.push((from, at, None));
                    }
                    next.push((at, at + needle.len(), Some(id)));
                    from = at + needle.len();
                }
                if from < end {
                    next.push((from, end, None));
                }
            }
            fragments = next;
        }
        fragments
    }

    fn tokenize_fragment(&self, text: &str, start: usize, end: usize, space_prefix: bool, out: &mut Encoded) {
        // The fragment with spaces written as ▁; each character remembers its original span.
        let mut escaped = String::with_capacity(end - start + 3);
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut push = |escaped: &mut String, piece: &str, span: (usize, usize)| {
            let s = escaped.len();
            escaped.push_str(piece);
            symbols.push(Symbol { start: s, len: piece.len(), span, prev: 0, next: 0 });
        };
        if space_prefix {
            push(&mut escaped, "▁", (start, start));
        }
        for (i, c) in text[start..end].char_indices() {
            let at = start + i;
            let span = (at, at + c.len_utf8());
            if c == ' ' {
                push(&mut escaped, "▁", span);
            } else {
                push(&mut escaped, &text[at..at + c.len_utf8()], span);
            }
        }
        let n = symbols.len();
        for (i, s) in symbols.iter_mut().enumerate() {
            s.prev = i as isize - 1;
            s.next = if i + 1 == n { -1 } else { i as isize + 1 };
        }
        let mut queue = BinaryHeap::new();
        let try_add = |symbols: &[Symbol], queue: &mut BinaryHeap<Bigram>, left: isize, right: isize| {
            if left < 0 || right < 0 {
                return;
            }
            let (l, r) = (symbols[left as usize], symbols[right as usize]);
            let merged = &escaped[l.start..l.start + l.len + r.len];
            if let Some(&id) = self.ids.get(merged) {
                queue.push(Bigram {
                    left: left as usize,
                    right: right as usize,
                    score: self.scores[id as usize],
                    size: merged.len(),
                });
            }
        };
        for i in 1..n {
            try_add(&symbols, &mut queue, i as isize - 1, i as isize);
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (symbols[b.left], symbols[b.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue;
            }
            symbols[b.left].len += r.len;
            symbols[b.left].span.1 = r.span.1;
            symbols[b.right].len = 0;
            symbols[b.left].next = r.next;
            if r.next >= 0 {
                symbols[r.next as usize].prev = b.left as isize;
            }
            try_add(&symbols, &mut queue, symbols[b.left].prev, b.left as isize);
            try_add(&symbols, &mut queue, b.left as isize, symbols[b.left].next);
        }
        let mut i: isize = if n == 0 { -1 } else { 0 };
        while i >= 0 {
            let s = symbols[i as usize];
            let piece = &escaped[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => {
                    out.ids.push(i64::from(id));
                    out.spans.push(s.span);
                }
                None => {
                    // Only single characters can be outside the vocabulary: merges make entries.
                    for byte in piece.bytes() {
                        out.ids.push(i64::from(self.byte_token(byte)));
                        out.spans.push(s.span);
                    }
                }
            }
            i = s.next;
        }
    }

    /// `<0xXX>`, else the byte itself as a one-character entry, else the unknown token (llama.cpp
    /// would abort; a vocabulary without byte tokens is refused when loaded).
    fn byte_token(&self, byte: u8) -> u32 {
        self.ids
            .get(&format!("<0x{byte:02X}>"))
            .or_else(|| (byte < 0x80).then(|| self.ids.get(&(byte as char).to_string())).flatten())
            .copied()
            .unwrap_or(0)
    }

    /// Whether every byte has a token, which `encode` relies on.
    pub fn has_byte_tokens(&self) -> bool {
        (0..=255u8).all(|b| {
            self.ids.get(&format!("<0x{b:02X}>")).is_some_and(|&id| self.types[id as usize] == BYTE)
                || (b < 0x80 && self.ids.contains_key(&(b as char).to_string()))
        })
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(token) = self.tokens.get(id as usize) else { continue };
            match self.types[id as usize] {
                NORMAL => bytes.extend_from_slice(token.replace('▁', " ").as_bytes()),
                USER_DEFINED => bytes.extend_from_slice(token.as_bytes()),
                BYTE => {
                    if let Some(Ok(b)) =
                        token.strip_prefix("<0x").and_then(|t| t.strip_suffix('>')).map(|b| u8::from_str_radix(b, 16))
                    {
                        bytes.push(b);
                    }
                }
                UNKNOWN => bytes.extend_from_slice("\u{2585}".as_bytes()),
                CONTROL => {}
                _ => {}
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> SpmTokenizer {
        let vocab: &[(&str, f32, u8)] = &[
            ("<pad>", 0.0, CONTROL),
            ("<unk>", 0.0, UNKNOWN),
            ("\n", 0.0, USER_DEFINED),
            ("  ", 0.0, USER_DEFINED),
            ("▁", -1.0, NORMAL),
            ("a", -2.0, NORMAL),
            ("b", -2.0, NORMAL),
            ("ab", -1.5, NORMAL),
            ("▁a", -0.5, NORMAL),
            ("▁ab", -0.1, NORMAL),
            ("ba", -0.2, NORMAL),
        ];
        let mut tokens: Vec<String> = vocab.iter().map(|v| v.0.to_owned()).collect();
        let mut scores: Vec<f32> = vocab.iter().map(|v| v.1).collect();
        let mut types: Vec<u8> = vocab.iter().map(|v| v.2).collect();
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            scores.push(0.0);
            types.push(BYTE);
        }
        SpmTokenizer::new(tokens, scores, types, false).unwrap()
    }

    #[test]
    fn highest_scores_merge_first_and_user_defined_tokens_cut_the_text() {
        let t = toy();
        let ids = |s: &str| t.encode(s).ids;
        // "▁ab": ▁a (−0.5) beats ab (−1.5), then ▁ab (−0.1).
        assert_eq!(ids(" ab"), vec![9]);
        // "bab": ba (−0.2) at the left beats ab (−1.5).
        assert_eq!(ids("bab"), vec![10, 6]);
        // A newline and a double space are tokens of their own; ▁ stays for single spaces.
        assert_eq!(ids("a\nb  a"), vec![5, 2, 6, 3, 5]);
        // A character outside the vocabulary becomes its UTF-8 bytes.
        let e = t.encode("é");
        assert_eq!(e.ids, vec![11 + 0xC3, 11 + 0xA9]);
        assert_eq!(e.spans, vec![(0, 2), (0, 2)]);
        assert_eq!(t.decode(&[9, 2, 11 + 0xC3, 11 + 0xA9, 0]), " ab\né");
        let e = t.encode("b ab");
        assert_eq!(e.spans, vec![(0, 1), (1, 4)]);
    }
}
