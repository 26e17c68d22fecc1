//! `index.html`: one self-contained page (inline CSS and SVG, no scripts, no external requests).
//! Every string that comes from data — suite, task and model names, descriptions, errors — goes
//! through [`escape`].

use std::fmt::Write;

use super::charts::metric_chart;
use super::{ReportData, fmt_value};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}\
th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}.ci{color:#777;font-size:.85em}\
.best{font-weight:bold}.note{color:#555;font-size:.9em}.failed{color:#a00}.charts{display:flex;flex-wrap:wrap;gap:1rem}\
code{background:#f3f3f3;padding:0 .2rem}.gate td:nth-child(-n+4),.gate th:nth-child(-n+4){text-align:left}.pairs td{text-align:left;vertical-align:top;white-space:pre-wrap;max-width:22rem;font-size:.85em}";

pub fn page(data: &ReportData) -> String {
    let m = &data.manifest;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lmgauge: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&m.suite)
    );
    let _ = writeln!(out, "<h1>lmgauge: {}</h1>", escape(&m.suite));
    if let Some(d) = &m.suite_description {
        let _ = writeln!(out, "<p>{}</p>", escape(d));
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">Run <code>{}</code>, seed {}, {} bootstrap resamples, suite hash <code>{}</code>, lmgauge {}{}. \
         Values are corpus-level; the interval is the 95% bootstrap interval over items; ↓ lower is better, ↑ higher is better.</p>",
        escape(&m.run_id),
        m.seed,
        m.bootstrap_resamples,
        escape(&m.short_hash()),
        escape(&m.tool_version),
        m.git_commit
            .as_deref()
            .map(|c| format!(", commit <code>{}</code>", escape(&c[..c.len().min(10)])))
            .unwrap_or_default()
    );

    if let Some(g) = &data.gate {
        gate_section(&mut out, g);
    }
    for task in data.task_ids() {
        let _ = writeln!(out, "<section><h2>{}</h2>", escape(&task));
        if let Some(info) = m.tasks.iter().find(|t| t.id == task) {
            let _ = write!(
                out,
                "<p>Type <code>{}</code>, dataset <code>{}</code>",
                escape(&info.task_type),
                escape(&info.dataset)
            );
            if let Some(src) = &info.source {
                let _ = write!(out, " ({})", escape(src));
            }
            let _ = writeln!(out, ".</p>");
            if let Some(d) = &info.description {
                let _ = writeln!(out, "<p>{}</p>", escape(d));
            }
        }
        let rows: Vec<_> = data.rows_of(&task).collect();
        let metrics = ReportData::distinct(rows.iter().copied(), |r| &r.metric);
        let models = ReportData::distinct(rows.iter().copied(), |r| &r.model);
        if rows.is_empty() {
            let _ = writeln!(out, "<p>No results.</p></section>");
            continue;
        }
        out.push_str("<table><thead><tr><th>model</th><th>n</th>");
        for metric in &metrics {
            let hib = rows.iter().find(|r| &r.metric == metric).is_some_and(|r| r.higher_is_better);
            let _ = write!(out, "<th>{} {}</th>", escape(metric), if hib { "↑" } else { "↓" });
        }
        out.push_str("</tr></thead><tbody>\n");
        for model in &models {
            let n = rows.iter().find(|r| &r.model == model).map(|r| r.n).unwrap_or(0);
            let _ = write!(out, "<tr><td>{}</td><td>{n}</td>", escape(model));
            for metric in &metrics {
                let best = best_model(&rows, metric);
                match rows.iter().find(|r| &r.model == model && &r.metric == metric) {
                    Some(r) => {
                        let class = if best.as_deref() == Some(model.as_str()) { " class=\"best\"" } else { "" };
                        let _ = write!(
                            out,
                            "<td{class}>{} <span class=\"ci\">[{}, {}]</span></td>",
                            fmt_value(r.value),
                            fmt_value(r.ci_low),
                            fmt_value(r.ci_high)
                        );
                    }
                    None => out.push_str("<td>–</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        if metrics.iter().any(|m| m == "token_perplexity") {
            out.push_str("<p class=\"note\">token_perplexity depends on each model's tokenizer: compare models with different tokenizers by word_perplexity or bits_per_byte.</p>\n");
        }
        preference_section(&mut out, data, &task);
        generations_section(&mut out, data, &task);
        for m in data.matrices(&task) {
            let _ = write!(
                out,
                "<h3>Pairwise {}</h3><p class=\"note\">{} test; each cell: row − column and its p-value; bold when p &lt; 0.05.</p><table><thead><tr><th></th>",
                escape(&m.metric),
                escape(&m.test)
            );
            for c in &m.models {
                let _ = write!(out, "<th>{}</th>", escape(c));
            }
            out.push_str("</tr></thead><tbody>\n");
            for r in &m.models {
                let _ = write!(out, "<tr><td>{}</td>", escape(r));
                for c in &m.models {
                    match m.cell(r, c) {
                        Some((d, p)) => {
                            let class = if p < 0.05 { " class=\"best\"" } else { "" };
                            let _ = write!(out, "<td{class}>{d:+.2} <span class=\"ci\">p={p:.4}</span></td>");
                        }
                        None => out.push_str("<td>–</td>"),
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table>\n");
        }
        out.push_str("<div class=\"charts\">");
        for metric in &metrics {
            let metric_rows: Vec<_> = rows.iter().copied().filter(|r| &r.metric == metric).collect();
            // Accuracy of a judge on pairs: chance is one half.
            let chance = matches!(metric.as_str(), "accuracy" | "accuracy_ties_half").then_some(0.5);
            out.push_str(&metric_chart(&format!("{task}: {metric}"), &metric_rows, chance));
        }
        out.push_str("</div></section>\n");
    }

    history_section(&mut out, data);
    out.push_str("<section><h2>Models</h2><ul>\n");
    for model in &m.models {
        let _ = writeln!(
            out,
            "<li><b>{}</b> ({}): {}</li>",
            escape(&model.id),
            escape(&model.kind),
            escape(&model.description)
        );
    }
    out.push_str("</ul></section>\n");
    let failed: Vec<_> = m.jobs.iter().filter(|j| j.status != "done").collect();
    if !failed.is_empty() {
        out.push_str("<section><h2>Failed jobs</h2><ul>\n");
        for j in failed {
            let _ = writeln!(
                out,
                "<li class=\"failed\">{} × {}: {}</li>",
                escape(&j.task),
                escape(&j.model),
                escape(j.error.as_deref().unwrap_or("unknown error"))
            );
        }
        out.push_str("</ul></section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Preference tasks: judges' strict accuracy with Wilson intervals beside chance, and Cohen's
/// kappa between every two judges.
fn preference_section(out: &mut String, data: &ReportData, task: &str) {
    let judges: Vec<_> = data.judges.iter().filter(|r| r.task == task).collect();
    if judges.is_empty() {
        return;
    }
    out.push_str("<h3>Judges against human preference</h3><p class=\"note\">Strict accuracy (ties count as wrong) with its Wilson 95% interval; chance is 0.500. The length baseline shows how far length alone goes.</p>");
    out.push_str("<table><thead><tr><th>judge</th><th>n</th><th>chosen wins</th><th>ties</th><th>rejected wins</th><th>accuracy [Wilson 95%]</th></tr></thead><tbody>\n");
    for r in &judges {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} <span class=\"ci\">[{}, {}]</span></td></tr>",
            escape(&r.judge),
            r.n,
            r.wins,
            r.ties,
            r.losses,
            fmt_value(r.accuracy),
            fmt_value(r.wilson_low),
            fmt_value(r.wilson_high)
        );
    }
    out.push_str("</tbody></table>\n");
    let names: Vec<String> = judges.iter().map(|r| r.judge.clone()).collect();
    let kappa = |a: &str, b: &str| {
        data.agreement
            .iter()
            .find(|r| r.task == task && ((r.judge_a == a && r.judge_b == b) || (r.judge_a == b && r.judge_b == a)))
            .map(|r| (r.agreement, r.kappa))
    };
    out.push_str("<h3>Agreement between judges</h3><p class=\"note\">Cohen's kappa (raw agreement in brackets) over the same pairs; darker is higher.</p><table><thead><tr><th></th>");
    for n in &names {
        let _ = write!(out, "<th>{}</th>", escape(n));
    }
    out.push_str("</tr></thead><tbody>\n");
    for a in &names {
        let _ = write!(out, "<tr><td>{}</td>", escape(a));
        for b in &names {
            match kappa(a, b) {
                Some((po, k)) => {
                    let shade = if k.is_finite() { (k.clamp(0.0, 1.0) * 0.6 * 100.0).round() as u32 } else { 0 };
                    let _ = write!(
                        out,
                        "<td style=\"background:hsl(215,60%,{}%)\">{} <span class=\"ci\">[{}]</span></td>",
                        100 - shade,
                        fmt_value(k),
                        fmt_value(po)
                    );
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    let subsets: Vec<_> = data.subsets.iter().filter(|s| s.task == task).collect();
    if !subsets.is_empty() {
        out.push_str("<h3>Accuracy by subset</h3><table><thead><tr><th>judge</th><th>subset</th><th>n</th><th>accuracy</th></tr></thead><tbody>\n");
        for s in subsets {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.judge),
                escape(&s.subset),
                s.n,
                fmt_value(s.accuracy)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    let wrong: Vec<_> = data.disagreements.iter().filter(|d| d.task == task).collect();
    if let Some(first) = wrong.first() {
        let _ = writeln!(
            out,
            "<h3>Where the best judge ({}) disagrees with people</h3><p class=\"note\">The first {} pairs it decides for the rejected response (texts shortened).</p>",
            escape(&first.judge),
            wrong.len()
        );
        out.push_str("<table class=\"pairs\"><thead><tr><th>line</th><th>prompt (end)</th><th>chosen by people</th><th>rejected by people</th></tr></thead><tbody>\n");
        for d in wrong {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.line,
                escape(&d.prompt_tail),
                escape(&d.chosen),
                escape(&d.rejected)
            );
        }
        out.push_str("</tbody></table>\n");
    }
}

fn gate_section(out: &mut String, g: &crate::store::gate::GateReport) {
    use crate::store::gate::Verdict;
    let _ = writeln!(
        out,
        "<section><h2>Gate: {}</h2><p>Against baseline <code>{}</code> (run <code>{}</code>): {} regressed, {} improved, {} within noise, {} missing, {} new.{}</p>",
        if g.failed() { "failed" } else { "passed" },
        escape(&g.baseline_file),
        escape(&g.baseline_run_id),
        g.count(Verdict::Regressed),
        g.count(Verdict::Improved),
        g.count(Verdict::WithinNoise),
        g.count(Verdict::Missing),
        g.count(Verdict::New),
        if g.suite_hash_changed { " The suite file changed since the baseline." } else { "" }
    );
    out.push_str("<table class=\"gate\"><thead><tr><th>verdict</th><th>task</th><th>model</th><th>metric</th><th>baseline</th><th>run</th><th>Δ [95%]</th><th>band</th></tr></thead><tbody>\n");
    for e in &g.entries {
        let class = match e.verdict {
            Verdict::Regressed | Verdict::Missing => " class=\"failed\"",
            Verdict::Improved => " class=\"best\"",
            _ => "",
        };
        let f = |v: Option<f64>| v.map(fmt_value).unwrap_or_else(|| "–".into());
        let interval = match (e.delta_low, e.delta_high) {
            (Some(l), Some(h)) => format!(" <span class=\"ci\">[{}, {}]</span>", fmt_value(l), fmt_value(h)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{interval}</td><td>{}</td></tr>",
            e.verdict.name(),
            escape(&e.task),
            escape(&e.model),
            escape(&e.metric),
            f(e.baseline),
            f(e.current),
            f(e.delta),
            fmt_value(e.band)
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// Trend charts over the suite's runs: gated metrics when the run was gated, else every metric.
fn history_section(out: &mut String, data: &ReportData) {
    let runs = &data.history;
    if runs.len() < 2 {
        return;
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in &data.rows {
        let gated =
            data.gate.as_ref().is_none_or(|g| g.entries.iter().any(|e| e.task == r.task && e.metric == r.metric));
        if gated && !keys.contains(&(r.task.clone(), r.metric.clone())) {
            keys.push((r.task.clone(), r.metric.clone()));
        }
    }
    let _ = writeln!(
        out,
        "<section><h2>History</h2><p class=\"note\">{} runs of this suite, oldest first.</p><div class=\"charts\">",
        runs.len()
    );
    for (task, metric) in keys {
        let models =
            ReportData::distinct(data.rows.iter().filter(|r| r.task == task && r.metric == metric), |r| &r.model);
        let series: Vec<super::charts::Series> = models
            .into_iter()
            .map(|m| {
                let points = runs
                    .iter()
                    .map(|run| {
                        run.rows
                            .iter()
                            .find(|r| r.task == task && r.metric == metric && r.model == m)
                            .map(|r| (r.value, r.ci_low, r.ci_high))
                    })
                    .collect();
                (m, points)
            })
            .collect();
        out.push_str(&super::charts::trend_chart(&format!("{task}: {metric}"), runs.len(), &series));
    }
    out.push_str("</div></section>\n");
}

/// The model with the best value of a metric, honouring its direction.
fn best_model(rows: &[&crate::store::ResultRow], metric: &str) -> Option<String> {
    if metric.parse::<crate::metrics::Metric>().is_ok_and(|m| m.is_descriptive()) {
        return None;
    }
    let candidates = rows.iter().filter(|r| r.metric == metric && r.value.is_finite());
    let best = if rows.iter().any(|r| r.metric == metric && r.higher_is_better) {
        candidates.max_by(|a, b| a.value.total_cmp(&b.value))
    } else {
        candidates.min_by(|a, b| a.value.total_cmp(&b.value))
    };
    best.map(|r| r.model.clone())
}

/// The table of generation outputs: for the first items of a generation task, the prompt, the
/// reference(s) and what each model wrote with its sentence-level scores.
fn generations_section(out: &mut String, data: &ReportData, task: &str) {
    let rows: Vec<_> = data.generations.iter().filter(|g| g.task == task).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3>What the models wrote</h3><p class=\"note\">The first {} items: prompt, reference(s) and each model's output with its per-item scores (sentence BLEU and chrF, ROUGE F-measure).</p>",
        rows.len()
    );
    out.push_str("<table class=\"pairs\"><thead><tr><th>item</th><th>prompt</th><th>reference</th><th>model</th><th>output</th><th>scores</th></tr></thead><tbody>\n");
    for g in rows {
        let span = g.outputs.len().max(1);
        let references = g.references.iter().map(|r| escape(r)).collect::<Vec<_>>().join("<hr>");
        let _ = write!(
            out,
            "<tr><td rowspan=\"{span}\">{}</td><td rowspan=\"{span}\">{}</td><td rowspan=\"{span}\">{references}</td>",
            escape(&g.item),
            escape(&g.prompt)
        );
        if g.outputs.is_empty() {
            out.push_str("<td></td><td></td><td></td></tr>\n");
        }
        for (i, (model, output, scores)) in g.outputs.iter().enumerate() {
            if i > 0 {
                out.push_str("<tr>");
            }
            let scores =
                scores.iter().map(|(m, v)| format!("{} {}", escape(m), fmt_value(*v))).collect::<Vec<_>>().join("<br>");
            let _ = writeln!(out, "<td>{}</td><td>{}</td><td>{scores}</td></tr>", escape(model), escape(output));
        }
    }
    out.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
