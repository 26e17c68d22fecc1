//! How numbers look to people: one precision rule shared by the report, the summary and the gate's
//! Markdown and JUnit output, so a value reads the same everywhere.

/// A number with a precision that suits its size.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell of a CSV file meant for spreadsheets: one that begins with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'`, so Excel, LibreOffice and Google Sheets show it as
/// text instead of running it as a formula (OWASP's advice). Numbers are written as numbers and
/// never pass through here.
pub fn spreadsheet_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(FORMULA_STARTS) { std::borrow::Cow::Owned(format!("'{s}")) } else { std::borrow::Cow::Borrowed(s) }
}

/// The text of a cell [`spreadsheet_cell`] wrote (for the files lmgauge reads back: ids never
/// hold a `'`, so the quote it added is the only one there can be).
pub fn from_spreadsheet_cell(s: String) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest.to_owned(),
        _ => s,
    }
}

/// A data string safe to write to a terminal: control characters other than newline and tab
/// (ESC, the C1 controls that start CSI and OSC sequences, BEL, DEL, …) are written as visible
/// `\u{…}` escapes, so text from a dataset, a model file or a model's output cannot move the
/// cursor, recolour the terminal, set its title or reach the clipboard.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_read_back() {
        for s in ["=HYPERLINK(\"x\")", "+1", "-A1", "@SUM(A1)", "\tx", "\rx"] {
            let cell = spreadsheet_cell(s);
            assert!(cell.starts_with('\''), "{s:?}");
            assert_eq!(from_spreadsheet_cell(cell.into_owned()), s);
        }
        for s in ["kn3", "bleu", "'quoted", "a=b"] {
            assert_eq!(spreadsheet_cell(s), s);
            assert_eq!(from_spreadsheet_cell(s.to_owned()), s);
        }
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(terminal_safe("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(terminal_safe("a\u{1b}]52;c;aGk=\u{7}b"), "a\\u{1b}]52;c;aGk=\\u{7}b");
        assert_eq!(terminal_safe("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
    }
}
