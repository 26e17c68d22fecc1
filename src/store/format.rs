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
