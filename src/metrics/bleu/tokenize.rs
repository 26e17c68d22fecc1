//! sacrebleu's tokenizers, reproduced exactly: `13a` (mteval-v13a), `intl` (mteval-v14
//! international), `char`, `none` and `zh`.
//!
//! Each regex pass of sacrebleu is a fixed-width pattern applied left to right without overlap
//! (Python's `re.sub`); the passes below scan the same way, so the output is the same string.
//! Final whitespace handling is Python's `' '.join(line.split())`, with Python's definition of
//! whitespace.

use std::sync::OnceLock;

use regex::Regex;

/// A BLEU tokenizer, by sacrebleu's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Tokenizer {
    #[default]
    #[serde(rename = "13a")]
    Mteval13a,
    #[serde(rename = "intl")]
    Intl,
    #[serde(rename = "char")]
    Char,
    #[serde(rename = "none")]
    None,
    #[serde(rename = "zh")]
    Zh,
}

impl Tokenizer {
    pub const ALL: &'static [Tokenizer] =
        &[Tokenizer::Mteval13a, Tokenizer::Intl, Tokenizer::Char, Tokenizer::None, Tokenizer::Zh];

    /// The name in sacrebleu's signature (`tok:13a`).
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::Mteval13a => "13a",
            Tokenizer::Intl => "intl",
            Tokenizer::Char => "char",
            Tokenizer::None => "none",
            Tokenizer::Zh => "zh",
        }
    }

    pub fn from_name(name: &str) -> Option<Tokenizer> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }

    pub fn tokenize(self, line: &str) -> String {
        match self {
            Tokenizer::Mteval13a => tokenize_13a(line),
            Tokenizer::Intl => tokenize_intl(line),
            Tokenizer::Char => tokenize_char(line),
            Tokenizer::None => line.to_owned(),
            Tokenizer::Zh => tokenize_zh(line),
        }
    }
}

/// Python's `str.isspace()` for one character (what `str.split()` splits on).
pub fn is_py_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python's `str.split()`: runs of whitespace separate, leading/trailing whitespace ignored.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|w| !w.is_empty())
}

/// `' '.join(s.split())`.
pub fn py_normalize_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in py_split(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    regexp_passes(&format!(" {line} "))
}

/// sacrebleu's `TokenizerRegexp` (the language-dependent part of 13a, also used by `zh`).
/// ASCII lines (nearly all MT output) run on bytes; others on chars, with the same passes.
fn regexp_passes(line: &str) -> String {
    if line.is_ascii() {
        let d = passes(line.as_bytes());
        // Only ASCII went in and only ASCII spaces were added.
        py_normalize_space(std::str::from_utf8(&d).expect("ASCII"))
    } else {
        let chars: Vec<char> = line.chars().collect();
        let d = passes(&chars);
        py_normalize_space(&d.into_iter().collect::<String>())
    }
}

fn passes<C: Copy + Into<char> + From<u8>>(input: &[C]) -> Vec<C> {
    let sp = C::from(b' ');
    // 1. ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → ' \1 '
    let mut a: Vec<C> = Vec::with_capacity(input.len() * 2);
    for &c in input {
        if matches!(c.into(), '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            a.extend([sp, c, sp]);
        } else {
            a.push(c);
        }
    }
    // 2. ([^0-9])([\.,]) → '\1 \2 '
    let b = pair_pass(
        &a,
        |x, y| !x.into().is_ascii_digit() && matches!(y.into(), '.' | ','),
        |x, y, out| out.extend([x, sp, y, sp]),
    );
    // 3. ([\.,])([^0-9]) → ' \1 \2'
    let c = pair_pass(
        &b,
        |x, y| matches!(x.into(), '.' | ',') && !y.into().is_ascii_digit(),
        |x, y, out| out.extend([sp, x, sp, y]),
    );
    // 4. ([0-9])(-) → '\1 \2 '
    pair_pass(&c, |x, y| x.into().is_ascii_digit() && y.into() == '-', |x, y, out| out.extend([x, sp, y, sp]))
}

/// One `re.sub` of a two-character pattern: leftmost matches, no overlap.
fn pair_pass<C: Copy>(input: &[C], matches: impl Fn(C, C) -> bool, replace: impl Fn(C, C, &mut Vec<C>)) -> Vec<C> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 4);
    let mut i = 0;
    while i < input.len() {
        if i + 1 < input.len() && matches(input[i], input[i + 1]) {
            replace(input[i], input[i + 1], &mut out);
            i += 2;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn intl_regexes() -> &'static [(Regex, &'static str); 3] {
    static RES: OnceLock<[(Regex, &'static str); 3]> = OnceLock::new();
    RES.get_or_init(|| {
        [
            (Regex::new(r"(\P{N})(\p{P})").expect("valid"), "$1 $2 "),
            (Regex::new(r"(\p{P})(\P{N})").expect("valid"), " $1 $2"),
            (Regex::new(r"(\p{S})").expect("valid"), " $1 "),
        ]
    })
}

fn tokenize_intl(line: &str) -> String {
    let mut s = line.to_owned();
    for (re, rep) in intl_regexes() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    py_normalize_space(&s)
}

fn tokenize_char(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    for (i, c) in line.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// sacrebleu's Chinese ranges. Two of its bounds are written `'\u20000'` and `'\u2f800'`, which
/// Python reads as two-character strings; compared with one character they make those ranges
/// (U+2000, U+2A6D] and (U+2F80, U+2FA1], and so they are here.
fn is_chinese_char(c: char) -> bool {
    let u = c as u32;
    const INCLUSIVE: &[(u32, u32)] = &[
        (0x3400, 0x4db5),
        (0x4e00, 0x9fa5),
        (0x9fa6, 0x9fbb),
        (0xf900, 0xfa2d),
        (0xfa30, 0xfa6a),
        (0xfa70, 0xfad9),
        (0xff00, 0xffef),
        (0x2e80, 0x2eff),
        (0x3000, 0x303f),
        (0x31c0, 0x31ef),
        (0x2f00, 0x2fdf),
        (0x2ff0, 0x2fff),
        (0x3100, 0x312f),
        (0x31a0, 0x31bf),
        (0xfe10, 0xfe1f),
        (0xfe30, 0xfe4f),
        (0x2600, 0x26ff),
        (0x2700, 0x27bf),
        (0x3200, 0x32ff),
        (0x3300, 0x33ff),
    ];
    INCLUSIVE.iter().any(|&(a, b)| a <= u && u <= b) || (0x2000 < u && u <= 0x2a6d) || (0x2f80 < u && u <= 0x2fa1)
}

fn tokenize_zh(line: &str) -> String {
    let line = line.trim_matches(is_py_space);
    let mut s = String::with_capacity(line.len() * 2);
    for c in line.chars() {
        if is_chinese_char(c) {
            s.push(' ');
            s.push(c);
            s.push(' ');
        } else {
            s.push(c);
        }
    }
    regexp_passes(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mteval_13a() {
        let t = Tokenizer::Mteval13a;
        assert_eq!(t.tokenize("The dog bit the man."), "The dog bit the man .");
        assert_eq!(t.tokenize("It wasn't surprising."), "It wasn't surprising .");
        assert_eq!(t.tokenize("1,000.5 and 3-4 &amp; a.b,c"), "1,000.5 and 3 - 4 & a . b , c");
        assert_eq!(t.tokenize("end 2017."), "end 2017 .");
        assert_eq!(t.tokenize("\"quoted\" (x) [y] {z}"), "\" quoted \" ( x ) [ y ] { z }");
    }

    #[test]
    fn intl_separates_unicode_punctuation() {
        assert_eq!(Tokenizer::Intl.tokenize("Hallo, „Welt“!"), "Hallo , „ Welt “ !");
        assert_eq!(Tokenizer::Intl.tokenize("year 2017."), "year 2017.");
        assert_eq!(Tokenizer::Intl.tokenize("5€ + x"), "5 € + x");
    }

    #[test]
    fn zh_and_char() {
        assert_eq!(Tokenizer::Zh.tokenize("我爱北京, ok."), "我 爱 北 京 , ok .");
        assert_eq!(Tokenizer::Char.tokenize("ab c"), "a b   c");
        assert!(
            is_chinese_char('\u{2001}')
                && is_chinese_char('\u{2a6d}')
                && !is_chinese_char('\u{2000}')
                && !is_chinese_char('\u{2a6e}')
        );
    }
}
