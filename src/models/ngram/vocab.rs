//! Word vocabulary of an n-gram model: strings to dense `u32` ids.
//!
//! The ids follow KenLM's convention so that trained models and their ARPA files line up with
//! lmplz: `<unk>` is 0, `<s>` is 1, `</s>` is 2, and every other word gets the next id in order of
//! first appearance. Hot maps elsewhere hold only these ids, never strings.

use rustc_hash::FxHashMap;

pub const UNK: u32 = 0;
pub const BOS: u32 = 1;
pub const EOS: u32 = 2;

pub const UNK_STR: &str = "<unk>";
pub const BOS_STR: &str = "<s>";
pub const EOS_STR: &str = "</s>";

/// A growable word ↔ id table.
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    words: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Vocab {
    /// A vocabulary holding only the three special symbols, with KenLM's ids.
    pub fn with_specials() -> Self {
        let mut vocab = Vocab::default();
        for special in [UNK_STR, BOS_STR, EOS_STR] {
            vocab.insert(special);
        }
        vocab
    }

    /// Returns the id of `word`, adding it when new.
    pub fn insert(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.index.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_owned());
        self.index.insert(word.to_owned(), id);
        id
    }

    /// The id of `word`, or `None` when the word is unknown.
    pub fn get(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// The id of `word`, mapping unknown words to `<unk>` as KenLM's query does.
    pub fn id_or_unk(&self, word: &str) -> u32 {
        self.get(word).unwrap_or(UNK)
    }

    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }
}

/// True for the symbols that lmplz refuses to see in training text.
pub fn is_special(word: &str) -> bool {
    word == UNK_STR || word == BOS_STR || word == EOS_STR
}

/// Splits a line into words the way KenLM's `FilePiece::ReadWordSameLine` does: runs of space,
/// tab, carriage return, form feed, vertical tab or NUL separate words.
pub fn split_words(line: &str) -> impl Iterator<Item = &str> {
    line.split([' ', '\t', '\r', '\x0b', '\x0c', '\0']).filter(|w| !w.is_empty())
}

/// Like [`word_spans`], with punctuation at either end of a word split off as tokens of its own
/// (`herself.` → `herself` `.`, `"Yes,` → `"` `Yes` `,`), as tokenized training text such as
/// WikiText-2 writes it. A word made only of punctuation stays whole.
pub fn punctuation_spans(line: &str) -> Vec<(usize, usize)> {
    const LEADING: &[u8] = b"\"'([{";
    const TRAILING: &[u8] = b".,!?;:\"')]}";
    let mut out = Vec::new();
    for (a, b) in word_spans(line) {
        let bytes = &line.as_bytes()[a..b];
        if bytes.iter().all(|c| c.is_ascii_punctuation()) {
            out.push((a, b));
            continue;
        }
        let lead = bytes.iter().take_while(|c| LEADING.contains(c)).count();
        let trail = bytes[lead..].iter().rev().take_while(|c| TRAILING.contains(c)).count();
        out.extend((a..a + lead).map(|i| (i, i + 1)));
        out.push((a + lead, b - trail));
        out.extend((b - trail..b).map(|i| (i, i + 1)));
    }
    out
}

/// Like [`split_words`] but yields each word's byte range within `line`.
pub fn word_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let sep = matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c' | '\0');
        match (sep, start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, line.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_split_from_words_only() {
        let line = "\"Yes, she hugged herself.\" @-@ ... U.S.";
        let tokens: Vec<&str> = punctuation_spans(line).iter().map(|&(a, b)| &line[a..b]).collect();
        assert_eq!(tokens, ["\"", "Yes", ",", "she", "hugged", "herself", ".", "\"", "@-@", "...", "U.S", "."]);
    }

    #[test]
    fn specials_have_kenlm_ids() {
        let mut v = Vocab::with_specials();
        assert_eq!(v.get("<unk>"), Some(UNK));
        assert_eq!(v.get("<s>"), Some(BOS));
        assert_eq!(v.get("</s>"), Some(EOS));
        assert_eq!(v.insert("the"), 3);
        assert_eq!(v.insert("the"), 3);
        assert_eq!(v.id_or_unk("zebra"), UNK);
    }

    #[test]
    fn spans_cover_words() {
        let line = "  ab\tc  dé ";
        let spans = word_spans(line);
        let words: Vec<&str> = spans.iter().map(|&(s, e)| &line[s..e]).collect();
        assert_eq!(words, vec!["ab", "c", "dé"]);
        assert_eq!(split_words(line).collect::<Vec<_>>(), words);
    }
}
