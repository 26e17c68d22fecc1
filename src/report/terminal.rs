//! `lmgauge show RUN`: a finished run's results as plain text for a terminal: per task, one row per
//! model and one column per metric (value and 95% interval), the best value of each column marked
//! with `*`, then the gate's verdict counts when the run was gated. Control characters in data
//! strings are replaced so that a suite cannot move the cursor or recolour the terminal.

use std::fmt::Write;

use super::{ReportData, fmt_value};
use crate::store::gate::Verdict;

/// A data string safe to print: control characters (escape sequences among them) become `?`.
fn plain(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The most characters a table cell shows; longer ones (an id of 65,536 characters, say) end in
/// `…`. `results.json` and the CSV files keep them whole.
const MAX_CELL: usize = 80;

/// A cell shortened to [`MAX_CELL`] characters.
fn cell(s: String) -> String {
    if s.chars().count() <= MAX_CELL {
        return s;
    }
    let mut short: String = s.chars().take(MAX_CELL - 1).collect();
    short.push('…');
    short
}

/// `value [low, high]`, or the value alone when the interval is undefined.
fn with_interval(value: f64, low: f64, high: f64) -> String {
    if low.is_finite() && high.is_finite() {
        format!("{} [{}, {}]", fmt_value(value), fmt_value(low), fmt_value(high))
    } else {
        fmt_value(value)
    }
}

/// Columns padded to their widest cell, two spaces apart. Padding is written out rather than
/// asked of `format!`, whose width is limited to 65,535 (and panics past it).
fn aligned(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().cloned().map(cell).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(s, w)| format!("{s}{}", " ".repeat(w - s.chars().count()))).collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

/// The run's summary as text.
pub fn summary(data: &ReportData) -> String {
    let m = &data.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — run {} ({}), seed {}, {} jobs",
        plain(&m.suite),
        plain(&m.run_id),
        plain(&m.status),
        m.seed,
        m.jobs.len()
    );
    if let Some(gate) = &data.gate {
        let counts: Vec<String> = Verdict::ALL.into_iter().map(|v| format!("{} {}", gate.count(v), v.name())).collect();
        let verdict = if gate.failed() { "FAILED" } else { "passed" };
        let _ = writeln!(out, "gate {verdict} against {}: {}", plain(&gate.baseline_run_id), counts.join(", "));
    }
    for task in data.task_ids() {
        let rows: Vec<_> = data.rows_of(&task).collect();
        let kind = m.tasks.iter().find(|t| t.id == task).map(|t| t.task_type.as_str()).unwrap_or("");
        let _ = writeln!(out, "\n{} ({})", cell(plain(&task)), cell(plain(kind)));
        if rows.is_empty() {
            let _ = writeln!(out, "  no results (every job of this task failed)");
            continue;
        }
        let metrics = ReportData::distinct(rows.iter().copied(), |r| &r.metric);
        let models = ReportData::distinct(rows.iter().copied(), |r| &r.model);
        let mut table = vec![std::iter::once("model".to_owned()).chain(metrics.iter().map(|s| plain(s))).collect()];
        // The best value of each metric column, in the metric's own direction.
        let best: Vec<Option<f64>> = metrics
            .iter()
            .map(|metric| {
                let of = rows.iter().filter(|r| &r.metric == metric && r.value.is_finite());
                if rows.iter().any(|r| &r.metric == metric && r.higher_is_better) {
                    of.map(|r| r.value).reduce(f64::max)
                } else {
                    of.map(|r| r.value).reduce(f64::min)
                }
            })
            .collect();
        for model in &models {
            let mut line = vec![plain(model)];
            for (metric, best) in metrics.iter().zip(&best) {
                let cell = rows.iter().find(|r| &r.model == model && &r.metric == metric).map(|r| {
                    let mark = if models.len() > 1 && Some(r.value) == *best { " *" } else { "" };
                    format!("{}{mark}", with_interval(r.value, r.ci_low, r.ci_high))
                });
                line.push(cell.unwrap_or_else(|| "–".into()));
            }
            table.push(line);
        }
        out.push_str(&aligned(&table));
    }
    let failed: Vec<_> = m.jobs.iter().filter(|j| j.status != "done").collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nfailed jobs:");
        for j in failed {
            let _ = writeln!(
                out,
                "  {} × {}: {}",
                plain(&j.task),
                plain(&j.model),
                plain(j.error.as_deref().unwrap_or(""))
            );
        }
    }
    out.push_str("\n* best of the column; [low, high] the 95% interval\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_in_data_cannot_reach_the_terminal() {
        assert_eq!(super::plain("a\u{1b}[31mred\n"), "a?[31mred?");
    }

    #[test]
    fn a_cell_of_any_length_is_aligned_without_panicking() {
        let long = "m".repeat(70_000);
        let out = super::aligned(&[vec!["model".into(), "x".into()], vec![long, "1".into()]]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1].chars().count(), 2 + super::MAX_CELL + 2 + 1, "{}", lines[1]);
        assert!(lines[1].contains('…'));
        assert_eq!(lines[0].find('x'), Some(2 + super::MAX_CELL + 2));
    }
}
