//! `summary.md`: one table per task (models × metrics, each value with its 95% interval), the
//! models described, and any failed job. Contains nothing time-dependent, so it is snapshot
//! tested.

use std::fmt::Write;

use super::{ReportData, fmt_value};

/// A data string as inline Markdown text: it must neither break the table nor become markup
/// or HTML where the file is rendered (GitHub, GitLab and CI summaries render inline HTML), so
/// HTML's specials become entities and Markdown's punctuation is backslash-escaped.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            // `_` stays: ids and metric names use it, and inside words it is never emphasis.
            '\\' | '`' | '*' | '[' | ']' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A data string inside a code span: literal there, so only the fence must outgrow its backticks.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut fence = String::from("`");
    while s.contains(fence.as_str()) {
        fence.push('`');
    }
    let pad = if s.starts_with('`') || s.ends_with('`') || fence.len() > 1 { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A free-text paragraph (a description): HTML neutralised, line breaks kept, Markdown kept.
fn paragraph(s: &str) -> String {
    s.trim().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn summary(data: &ReportData) -> String {
    let m = &data.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "# lmgauge: {}\n", cell(&m.suite));
    if let Some(d) = &m.suite_description {
        let _ = writeln!(out, "{}\n", paragraph(d));
    }
    let _ = writeln!(
        out,
        "Seed {}, {} bootstrap resamples, suite hash `{}`.\n",
        m.seed,
        m.bootstrap_resamples,
        m.short_hash()
    );
    let _ = writeln!(out, "Values are corpus-level; brackets hold the 95% bootstrap interval over items; n = items.\n");

    for task in data.task_ids() {
        let info = m.tasks.iter().find(|t| t.id == task);
        let _ = writeln!(out, "## {}\n", cell(&task));
        if let Some(info) = info {
            let _ = write!(out, "Type {}, dataset {}", code(&info.task_type), code(&info.dataset));
            if let Some(src) = &info.source {
                let _ = write!(out, " ({})", cell(src));
            }
            let _ = writeln!(out, ".\n");
            if let Some(d) = &info.description {
                let _ = writeln!(out, "{}\n", paragraph(d));
            }
        }
        let rows: Vec<_> = data.rows_of(&task).collect();
        if rows.is_empty() {
            let _ = writeln!(out, "No results.\n");
            continue;
        }
        let metrics = ReportData::distinct(rows.iter().copied(), |r| &r.metric);
        let models = ReportData::distinct(rows.iter().copied(), |r| &r.model);
        let _ = write!(out, "| model | n |");
        for metric in &metrics {
            let dir = if rows.iter().find(|r| &r.metric == metric).is_some_and(|r| r.higher_is_better) {
                "↑"
            } else {
                "↓"
            };
            let _ = write!(out, " {} {dir} |", cell(metric));
        }
        let _ = write!(out, "\n|---|---:|");
        for _ in &metrics {
            let _ = write!(out, "---:|");
        }
        out.push('\n');
        for model in &models {
            let n = rows.iter().find(|r| &r.model == model).map(|r| r.n).unwrap_or(0);
            let _ = write!(out, "| {} | {n} |", cell(model));
            for metric in &metrics {
                match rows.iter().find(|r| &r.model == model && &r.metric == metric) {
                    Some(r) => {
                        let _ = write!(
                            out,
                            " {} [{}, {}] |",
                            fmt_value(r.value),
                            fmt_value(r.ci_low),
                            fmt_value(r.ci_high)
                        );
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
        let divergence = info.is_some_and(|i| i.task_type == "kl-divergence");
        if divergence {
            let _ = writeln!(
                out,
                "\nEach model's next-token distributions against its base model's at the same positions (llama-perplexity's --kl-divergence): KL in nats, percentiles over tokens; n counts windows, the unit the bootstrap resamples."
            );
        } else if metrics.iter().any(|m| m == "token_perplexity") {
            let _ = writeln!(
                out,
                "\ntoken_perplexity is tokenizer-specific; compare models across tokenizers by word_perplexity or bits_per_byte."
            );
        }
        out.push('\n');
        let judges: Vec<_> = data.judges.iter().filter(|r| r.task == task).collect();
        if !judges.is_empty() {
            let _ = writeln!(out, "Strict accuracy with its Wilson 95% interval (chance 0.500):\n");
            let _ =
                writeln!(out, "| judge | n | chosen wins | ties | accuracy [Wilson 95%] |\n|---|---:|---:|---:|---:|");
            for r in judges {
                let (a, lo, hi) = (fmt_value(r.accuracy), fmt_value(r.wilson_low), fmt_value(r.wilson_high));
                let _ = writeln!(out, "| {} | {} | {} | {} | {a} [{lo}, {hi}] |", cell(&r.judge), r.n, r.wins, r.ties);
            }
            out.push('\n');
        }
        if data.judges.iter().all(|r| r.task != task) {
            group_table(&mut out, data, &task);
        }
        for m in data.matrices(&task) {
            let _ = writeln!(
                out,
                "Pairwise {} ({}): cell = row − column, p-value; * p < 0.05.\n",
                cell(&m.metric),
                cell(&m.test)
            );
            let _ = write!(out, "| |");
            for c in &m.models {
                let _ = write!(out, " {} |", cell(c));
            }
            let _ = write!(out, "\n|---|");
            for _ in &m.models {
                out.push_str("---:|");
            }
            out.push('\n');
            for r in &m.models {
                let _ = write!(out, "| {} |", cell(r));
                for c in &m.models {
                    match m.cell(r, c) {
                        Some((d, p)) => {
                            let _ = write!(out, " {d:+.2}, p={p:.4}{} |", if p < 0.05 { " *" } else { "" });
                        }
                        None => out.push_str(" – |"),
                    }
                }
                out.push('\n');
            }
            out.push('\n');
        }
    }

    let _ = writeln!(out, "## Models\n");
    for model in &m.models {
        let _ = writeln!(out, "- **{}** ({}): {}", cell(&model.id), cell(&model.kind), cell(&model.description));
    }
    let failed: Vec<_> = m.jobs.iter().filter(|j| j.status != "done").collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\n## Failed jobs\n");
        for j in failed {
            let _ = writeln!(
                out,
                "- {} × {}: {}",
                cell(&j.task),
                cell(&j.model),
                cell(j.error.as_deref().unwrap_or("unknown error"))
            );
        }
    }
    out
}

/// Minimal pairs: accuracy per value of the first group field (BLiMP's phenomenon), models as
/// columns; the other group fields are in `subsets.csv` and the HTML report. The same table the
/// HTML report lays out ([`super::views::group_tables`]).
fn group_table(out: &mut String, data: &ReportData, task: &str) {
    let Some(t) = super::views::group_tables(data, task, false).into_iter().next() else { return };
    let published =
        if t.published { " Columns marked (published) are numbers from the literature, not run here." } else { "" };
    let _ = writeln!(out, "Accuracy by {}:{published}\n", cell(&t.field));
    let _ = write!(out, "| {} | n |", cell(&t.field));
    t.models.iter().for_each(|m| {
        let _ = write!(out, " {} |", cell(m));
    });
    let _ = writeln!(out, "\n|---|---:|{}", "---:|".repeat(t.models.len()));
    for (group, n, cells) in &t.rows {
        let _ = write!(out, "| {} | {n} |", cell(group));
        for c in cells {
            let _ = write!(out, " {} |", c.as_ref().map_or("–", |c| c.1.as_str()));
        }
        out.push('\n');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_strings_cannot_become_markup() {
        assert_eq!(cell("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(cell("a|b\n[x](javascript:y) *z* `c`"), "a\\|b \\[x\\](javascript:y) \\*z\\* \\`c\\`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("wiki.txt"), "`wiki.txt`");
        assert_eq!(paragraph(" <script>x</script> & *ok* "), "&lt;script&gt;x&lt;/script&gt; &amp; *ok*");
    }
}
