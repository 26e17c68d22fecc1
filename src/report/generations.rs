//! The report's table of generation outputs: for the first items of a generation task, the
//! prompt, the reference(s) and what each model wrote with its sentence-level scores. Every
//! string comes from data or from a model, so every one goes through [`escape`].

use std::fmt::Write;

use super::html::escape;
use super::{fmt_value, ReportData};

pub fn section(out: &mut String, data: &ReportData, task: &str) {
    let rows: Vec<_> = data.generations.iter().filter(|g| g.task == task).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h3>What the models wrote</h3><p class=\"note\">The first {} items: prompt, reference(s) and each model's output with its per-item scores (sentence BLEU and chrF, ROUGE F-measure).</p>", rows.len());
    out.push_str("<table class=\"pairs\"><thead><tr><th>item</th><th>prompt</th><th>reference</th><th>model</th><th>output</th><th>scores</th></tr></thead><tbody>\n");
    for g in rows {
        let span = g.outputs.len().max(1);
        let references = g.references.iter().map(|r| escape(r)).collect::<Vec<_>>().join("<hr>");
        let _ = write!(out, "<tr><td rowspan=\"{span}\">{}</td><td rowspan=\"{span}\">{}</td><td rowspan=\"{span}\">{references}</td>", escape(&g.item), escape(&g.prompt));
        if g.outputs.is_empty() {
            out.push_str("<td></td><td></td><td></td></tr>\n");
        }
        for (i, (model, output, scores)) in g.outputs.iter().enumerate() {
            if i > 0 {
                out.push_str("<tr>");
            }
            let scores = scores.iter().map(|(m, v)| format!("{} {}", escape(m), fmt_value(*v))).collect::<Vec<_>>().join("<br>");
            let _ = writeln!(out, "<td>{}</td><td>{}</td><td>{scores}</td></tr>", escape(model), escape(output));
        }
    }
    out.push_str("</tbody></table>\n");
}
