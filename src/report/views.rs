//! What `index.html` shows, ready for its template (`templates/report.html`): a run's records
//! turned into rows and cells with numbers formatted, best values marked and charts drawn. No
//! markup is written here; the template writes it and escapes every value.

use super::charts::{GroupSeries, Series, axis_label, group_chart, metric_chart, trend_chart};
use super::{ReportData, family, fmt_value};
use crate::store::ResultRow;
use crate::store::gate::{GateReport, Verdict};

/// Background lightness (%), kappa and raw agreement of two judges.
pub type KappaCell = Option<(u32, String, String)>;
/// Row − column difference, p-value, and whether p < 0.05.
pub type PairCell = Option<(String, String, bool)>;
/// Background lightness (%), the value shown, whether the background is dark enough to need
/// light text, and the 95% interval (a tooltip).
pub type ShadedCell = Option<(u32, String, bool, String)>;
/// (metric, sentence-level score)
pub type Scores<'a> = Vec<(&'a str, String)>;

/// The scoreboard at the top of the page: models × tasks, each task's headline metric.
pub struct OverviewView {
    /// Per task: (anchor, task id, headline metric, ↑ or ↓).
    pub tasks: Vec<(String, String, String, &'static str)>,
    pub rows: Vec<OverviewRow>,
    /// Families present, for the legend: (css class, name).
    pub families: Vec<(&'static str, &'static str)>,
    /// Human-agreement tasks whose judges are ranked per human dimension in their own sections,
    /// not in one column here: (anchor, task id).
    pub per_dimension: Vec<(String, String)>,
}

pub struct OverviewRow {
    pub model: String,
    /// (css class, name) of the model's family.
    pub family: (&'static str, &'static str),
    pub cells: Vec<Option<OverviewCell>>,
}

pub struct OverviewCell {
    pub value: String,
    /// "95% interval low – high", a tooltip.
    pub interval: String,
    pub best: bool,
    /// The best model is better than every other on this task by a paired test (p < 0.05).
    pub significant: bool,
}

/// The anchor of a task's section (task ids are `[A-Za-z0-9._-]`).
pub fn task_anchor(task: &str) -> String {
    format!("task-{task}")
}

/// A task's headline metric: the first metric the suite lists for it that has results and
/// ranks models (not a descriptive one).
fn headline<'a>(data: &'a ReportData, task: &'a str) -> Option<&'a ResultRow> {
    let listed = data.manifest.tasks.iter().find(|t| t.id == task).map(|t| t.metrics.clone()).unwrap_or_default();
    let ranks = |m: &str| !m.parse::<crate::metrics::Metric>().is_ok_and(|m| m.is_descriptive());
    listed
        .iter()
        .filter(|m| ranks(m))
        .find_map(|m| data.rows_of(task).find(|r| &r.metric == m))
        .or_else(|| data.rows_of(task).find(|r| ranks(&r.metric)))
}

pub fn overview_view(data: &ReportData) -> Option<OverviewView> {
    let mut tasks = Vec::new();
    let mut headlines = Vec::new();
    let mut per_dimension = Vec::new();
    for task in data.task_ids() {
        // One column cannot rank judges of several human dimensions (`judge@dimension` rows).
        if data.human.iter().any(|h| h.task == task && !h.dimension.is_empty()) {
            per_dimension.push((task_anchor(&task), task.clone()));
            continue;
        }
        if let Some(h) = headline(data, &task) {
            let (metric, arrow) = (h.metric.clone(), if h.higher_is_better { "↑" } else { "↓" });
            tasks.push((task_anchor(&task), task.clone(), metric.clone(), arrow));
            headlines.push((task, metric));
        }
    }
    if tasks.is_empty() {
        return None;
    }
    let kinds: std::collections::HashMap<&str, &str> =
        data.manifest.models.iter().map(|m| (m.id.as_str(), m.kind.as_str())).collect();
    let mut models: Vec<String> = data.manifest.models.iter().map(|m| m.id.clone()).collect();
    for r in &data.rows {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    models
        .retain(|m| headlines.iter().any(|(t, metric)| data.rows_of(t).any(|r| &r.metric == metric && &r.model == m)));
    // Per task: the best model and whether a paired test separates it from every other model.
    let verdicts: Vec<(Option<String>, bool)> = headlines
        .iter()
        .map(|(task, metric)| {
            let rows: Vec<&ResultRow> = data.rows_of(task).collect();
            let best = best_model(&rows, metric);
            let others: Vec<&str> = rows
                .iter()
                .filter(|r| &r.metric == metric && Some(&r.model) != best.as_ref())
                .map(|r| r.model.as_str())
                .collect();
            let best_value = best.as_ref().and_then(|b| rows.iter().find(|r| &r.metric == metric && &r.model == b));
            // A model tied with the best leaves no single best to call significant.
            let tied = rows.iter().any(|r| {
                &r.metric == metric && Some(&r.model) != best.as_ref() && best_value.is_some_and(|b| b.value == r.value)
            });
            let significant = !tied
                && best.as_ref().is_some_and(|b| {
                    !others.is_empty()
                        && others.iter().all(|o| {
                            data.pairwise.iter().any(|p| {
                                &p.task == task
                                    && &p.metric == metric
                                    && ((&p.model_a == b && p.model_b == *o) || (p.model_a == *o && &p.model_b == b))
                                    && p.p_value < 0.05
                            })
                        })
                });
            (best, significant)
        })
        .collect();
    let mut families: Vec<(&'static str, &'static str)> = Vec::new();
    let rows = models
        .into_iter()
        .map(|model| {
            // A derived row (a judge's `judge:mean`) belongs to its judge's family.
            let base = model.split(':').next().unwrap_or(&model);
            let fam = family(kinds.get(base).copied().unwrap_or(""));
            if !families.contains(&fam) {
                families.push(fam);
            }
            let cells = headlines
                .iter()
                .zip(&verdicts)
                .map(|((task, metric), (best, significant))| {
                    let best_value =
                        best.as_ref().and_then(|b| data.rows_of(task).find(|r| &r.metric == metric && &r.model == b));
                    data.rows_of(task).find(|r| &r.metric == metric && r.model == model).map(|r| {
                        // Models tied with the best are best too.
                        let is_best = best_value.is_some_and(|b| b.value == r.value);
                        OverviewCell {
                            value: fmt_value(r.value),
                            interval: format!("95% interval {} – {}", fmt_value(r.ci_low), fmt_value(r.ci_high)),
                            best: is_best,
                            significant: is_best && *significant && best.as_deref() == Some(model.as_str()),
                        }
                    })
                })
                .collect();
            OverviewRow { model, family: fam, cells }
        })
        .collect();
    Some(OverviewView { tasks, rows, families, per_dimension })
}

pub struct GateView<'a> {
    pub outcome: &'static str,
    pub baseline_file: &'a str,
    pub baseline_run: &'a str,
    pub regressed: usize,
    pub improved: usize,
    pub within: usize,
    pub missing: usize,
    pub new: usize,
    pub not_comparable: usize,
    pub suite_changed: bool,
    pub entries: Vec<GateRow<'a>>,
}

pub struct GateRow<'a> {
    pub class: Option<&'static str>,
    pub verdict: &'static str,
    pub task: &'a str,
    pub model: &'a str,
    pub metric: &'a str,
    pub baseline: String,
    pub current: String,
    pub delta: String,
    pub interval: Option<(String, String)>,
    pub band: String,
}

pub struct TaskInfo<'a> {
    pub task_type: &'a str,
    pub dataset: &'a str,
    pub source: Option<&'a str>,
    pub description: Option<&'a str>,
}

pub struct TaskView<'a> {
    pub id: String,
    pub info: Option<TaskInfo<'a>>,
    /// (metric, ↑ or ↓)
    pub metrics: Vec<(String, &'static str)>,
    pub rows: Vec<ModelRow>,
    pub token_note: bool,
    /// A KL-divergence task: how to read its columns.
    pub divergence_note: bool,
    pub preference: Option<PreferenceView<'a>>,
    /// Human-agreement tasks: judges ranked against people, per dimension.
    pub human: Option<super::human_view::HumanView>,
    pub generations: Vec<GenerationView<'a>>,
    pub matrices: Vec<MatrixView>,
    pub groups: Vec<GroupTable>,
    /// The chart of the headline metric (the suite's first for the task).
    pub chart: String,
    /// Charts of the other metrics, behind a toggle.
    pub other_charts: Vec<String>,
    pub anchor: String,
}

pub struct ModelRow {
    pub model: String,
    pub n: u64,
    pub cells: Vec<Option<Cell>>,
}

pub struct Cell {
    pub value: String,
    pub low: String,
    pub high: String,
    pub best: bool,
}

pub struct JudgeView<'a> {
    pub judge: &'a str,
    pub n: usize,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
    pub accuracy: String,
    pub low: String,
    pub high: String,
}

pub struct PreferenceView<'a> {
    pub judges: Vec<JudgeView<'a>>,
    pub names: Vec<&'a str>,
    /// Per judge, per judge: (background lightness %, kappa, raw agreement).
    pub kappa: Vec<(&'a str, Vec<KappaCell>)>,
    /// (judge, subset, n, accuracy)
    pub subsets: Vec<(&'a str, &'a str, usize, String)>,
    pub best_judge: Option<&'a str>,
    pub disagreements: Vec<&'a crate::store::tables::Disagreement>,
}

pub struct GenerationView<'a> {
    pub span: usize,
    pub item: &'a str,
    pub prompt: &'a str,
    pub references: &'a [String],
    /// (model, output, [(metric, sentence score)])
    pub outputs: Vec<(&'a str, &'a str, Scores<'a>)>,
}

pub struct MatrixView {
    pub metric: String,
    pub test: String,
    pub models: Vec<String>,
    /// Per row model, per column model: (row − column, p-value, p < 0.05).
    pub rows: Vec<(String, Vec<PairCell>)>,
}

/// Per-group accuracy of every model (minimal pairs: phenomenon, term, field), one table per
/// group field, groups as rows and models as columns, each cell shaded by its value.
pub struct GroupTable {
    pub field: String,
    /// Some columns are published results, not run here.
    pub published: bool,
    pub models: Vec<String>,
    /// (group, n, per model: (background lightness %, accuracy))
    pub rows: Vec<(String, usize, Vec<ShadedCell>)>,
    /// The same numbers as a dot plot (SVG), groups as rows: readable at 67 phenomena.
    pub chart: String,
}

pub struct HistoryView {
    pub runs: usize,
    pub charts: Vec<String>,
}

pub fn gate_view(g: &GateReport) -> GateView<'_> {
    let f = |v: Option<f64>| v.map(fmt_value).unwrap_or_else(|| "–".into());
    GateView {
        outcome: if g.failed() { "failed" } else { "passed" },
        baseline_file: &g.baseline_file,
        baseline_run: &g.baseline_run_id,
        regressed: g.count(Verdict::Regressed),
        improved: g.count(Verdict::Improved),
        within: g.count(Verdict::WithinNoise),
        missing: g.count(Verdict::Missing),
        new: g.count(Verdict::New),
        not_comparable: g.count(Verdict::NotComparable),
        suite_changed: g.suite_hash_changed,
        entries: g
            .entries
            .iter()
            .map(|e| GateRow {
                class: match e.verdict {
                    _ if e.fails(g.policy.fail_on_missing) => Some("failed"),
                    Verdict::Improved => Some("best"),
                    _ => None,
                },
                verdict: e.verdict.name(),
                task: &e.task,
                model: &e.model,
                metric: &e.metric,
                baseline: f(e.baseline),
                current: f(e.current),
                delta: f(e.delta),
                interval: e.delta_low.zip(e.delta_high).map(|(l, h)| (fmt_value(l), fmt_value(h))),
                band: fmt_value(e.band),
            })
            .collect(),
    }
}

pub fn task_view(data: &ReportData, task: String) -> TaskView<'_> {
    let info = data.manifest.tasks.iter().find(|t| t.id == task).map(|i| TaskInfo {
        task_type: &i.task_type,
        dataset: &i.dataset,
        source: i.source.as_deref(),
        description: i.description.as_deref(),
    });
    let rows: Vec<&ResultRow> = data.rows_of(&task).collect();
    let metrics = ReportData::distinct(rows.iter().copied(), |r| &r.metric);
    let models = ReportData::distinct(rows.iter().copied(), |r| &r.model);
    let arrows = metrics
        .iter()
        .map(|metric| {
            let hib = rows.iter().find(|r| &r.metric == metric).is_some_and(|r| r.higher_is_better);
            (metric.clone(), if hib { "↑" } else { "↓" })
        })
        .collect();
    let best: Vec<Option<String>> = metrics.iter().map(|metric| best_model(&rows, metric)).collect();
    let model_rows = models
        .iter()
        .map(|model| ModelRow {
            model: model.clone(),
            n: rows.iter().find(|r| &r.model == model).map(|r| r.n).unwrap_or(0),
            cells: metrics
                .iter()
                .zip(&best)
                .map(|(metric, best)| {
                    rows.iter().find(|r| &r.model == model && &r.metric == metric).map(|r| Cell {
                        value: fmt_value(r.value),
                        low: fmt_value(r.ci_low),
                        high: fmt_value(r.ci_high),
                        best: best.as_deref() == Some(model.as_str()),
                    })
                })
                .collect(),
        })
        .collect();
    let headline_metric = headline(data, &task).map(|r| r.metric.clone());
    let chart_of = |metric: &String| {
        let metric_rows: Vec<_> = rows.iter().copied().filter(|r| &r.metric == metric).collect();
        // Accuracy of a judge on pairs: chance is one half.
        let chance = matches!(metric.as_str(), "accuracy" | "accuracy_ties_half").then_some(0.5);
        metric_chart(&format!("{task}: {metric}"), &metric_rows, chance)
    };
    let human = super::human_view::human_view(data, &task);
    // A human-agreement task shows its judges per dimension instead of a chart per statistic.
    let (chart, other_charts) = match human {
        Some(_) => (String::new(), Vec::new()),
        None => (
            headline_metric.as_ref().map(chart_of).unwrap_or_default(),
            metrics.iter().filter(|m| Some(*m) != headline_metric.as_ref()).map(chart_of).collect(),
        ),
    };
    // The models of a KL-divergence task share their base's tokenizer by construction.
    let divergence = info.as_ref().is_some_and(|i| i.task_type == "kl-divergence");
    TaskView {
        token_note: !divergence && metrics.iter().any(|m| m == "token_perplexity"),
        divergence_note: divergence,
        metrics: arrows,
        rows: model_rows,
        preference: preference_view(data, &task),
        human,
        generations: generations_view(data, &task),
        matrices: matrices_view(data, &task),
        groups: if data.judges.iter().any(|j| j.task == task) { Vec::new() } else { group_tables(data, &task, true) },
        chart,
        other_charts,
        info,
        anchor: task_anchor(&task),
        id: task,
    }
}

/// Preference tasks: judges' strict accuracy with Wilson intervals beside chance, Cohen's kappa
/// between every two judges, accuracy by subset, and pairs the best judge gets wrong.
fn preference_view<'a>(data: &'a ReportData, task: &str) -> Option<PreferenceView<'a>> {
    let judges: Vec<_> = data.judges.iter().filter(|r| r.task == task).collect();
    if judges.is_empty() {
        return None;
    }
    let names: Vec<&str> = judges.iter().map(|r| r.judge.as_str()).collect();
    let kappa = |a: &str, b: &str| {
        data.agreement
            .iter()
            .find(|r| r.task == task && ((r.judge_a == a && r.judge_b == b) || (r.judge_a == b && r.judge_b == a)))
            .map(|r| {
                let shade =
                    if r.kappa.is_finite() { (r.kappa.clamp(0.0, 1.0) * 0.6 * 100.0).round() as u32 } else { 0 };
                (100 - shade, fmt_value(r.kappa), fmt_value(r.agreement))
            })
    };
    let disagreements: Vec<_> = data.disagreements.iter().filter(|d| d.task == task).collect();
    Some(PreferenceView {
        judges: judges
            .iter()
            .map(|r| JudgeView {
                judge: &r.judge,
                n: r.n,
                wins: r.wins,
                ties: r.ties,
                losses: r.losses,
                accuracy: fmt_value(r.accuracy),
                low: fmt_value(r.wilson_low),
                high: fmt_value(r.wilson_high),
            })
            .collect(),
        kappa: names.iter().map(|&a| (a, names.iter().map(|&b| kappa(a, b)).collect())).collect(),
        names,
        subsets: data
            .subsets
            .iter()
            .filter(|s| s.task == task)
            .map(|s| (s.judge.as_str(), s.subset.as_str(), s.n, fmt_value(s.accuracy)))
            .collect(),
        best_judge: disagreements.first().map(|d| d.judge.as_str()),
        disagreements,
    })
}

/// Generation tasks: for the first items, the prompt, the reference(s) and what each model wrote
/// with its sentence-level scores.
fn generations_view<'a>(data: &'a ReportData, task: &str) -> Vec<GenerationView<'a>> {
    data.generations
        .iter()
        .filter(|g| g.task == task)
        .map(|g| GenerationView {
            span: g.outputs.len().max(1),
            item: &g.item,
            prompt: &g.prompt,
            references: &g.references,
            outputs: g
                .outputs
                .iter()
                .map(|(model, output, scores)| {
                    let scores = scores.iter().map(|(m, v)| (m.as_str(), fmt_value(*v))).collect();
                    (model.as_str(), output.as_str(), scores)
                })
                .collect(),
        })
        .collect()
}

fn matrices_view(data: &ReportData, task: &str) -> Vec<MatrixView> {
    data.matrices(task)
        .into_iter()
        .map(|m| {
            let rows = m
                .models
                .iter()
                .map(|r| {
                    let cells = m
                        .models
                        .iter()
                        .map(|c| m.cell(r, c).map(|(d, p)| (format!("{d:+.2}"), format!("{p:.4}"), p < 0.05)))
                        .collect();
                    (r.clone(), cells)
                })
                .collect();
            MatrixView { metric: m.metric.clone(), test: m.test.clone(), models: m.models.clone(), rows }
        })
        .collect()
}

/// Accuracy by group for tasks without judges (minimal pairs, multiple choice): `field=value`
/// subsets, one table per field, in the order they were written; `charts` draws each table's dot
/// plot too (the HTML report's; summary.md has no use for SVG).
pub(super) fn group_tables(data: &ReportData, task: &str, charts: bool) -> Vec<GroupTable> {
    let rows: Vec<_> = data.subsets.iter().filter(|s| s.task == task).collect();
    let mut tables: Vec<GroupTable> = Vec::new();
    for s in &rows {
        let (field, group) = s.subset.split_once('=').unwrap_or(("group", s.subset.as_str()));
        let t = match tables.iter().position(|t| t.field == field) {
            Some(i) => &mut tables[i],
            None => {
                tables.push(GroupTable {
                    field: field.to_owned(),
                    published: false,
                    models: Vec::new(),
                    rows: Vec::new(),
                    chart: String::new(),
                });
                tables.last_mut().expect("pushed")
            }
        };
        if !t.models.contains(&s.judge) {
            t.published |= s.judge.ends_with(" (published)");
            t.models.push(s.judge.clone());
        }
        if !t.rows.iter().any(|r| r.0 == group) {
            t.rows.push((group.to_owned(), s.n, Vec::new()));
        }
    }
    // Pairs are won by chance half the time; choices' chance depends on their number.
    let chance = data.rows.iter().any(|r| r.task == task && r.metric == "accuracy").then_some(0.5);
    for t in &mut tables {
        let value = |m: &String, group: &str| {
            rows.iter().find(|s| &s.judge == m && s.subset == format!("{}={group}", t.field)).map(|s| s.accuracy)
        };
        let names: Vec<String> = t.rows.iter().map(|r| r.0.clone()).collect();
        let series: Vec<GroupSeries> =
            t.models.iter().map(|m| (m.clone(), names.iter().map(|g| value(m, g)).collect())).collect();
        if charts && names.len() >= 3 {
            t.chart = group_chart(&format!("{task}: accuracy by {}", t.field), &names, &series, chance);
        }
        for (group, _, cells) in &mut t.rows {
            *cells = t
                .models
                .iter()
                .map(|m| {
                    rows.iter().find(|s| &s.judge == m && s.subset == format!("{}={group}", t.field)).map(|s| {
                        let shade = (s.accuracy.clamp(0.0, 1.0) * 0.6 * 100.0).round() as u32;
                        let interval = match (s.ci_low, s.ci_high) {
                            (Some(lo), Some(hi)) => {
                                // The mean over groups has a normal interval, every other row Wilson's.
                                let kind = if s.subset.starts_with("overall=mean over ") { "normal" } else { "Wilson" };
                                format!("{kind} 95%: [{}, {}], n = {}", fmt_value(lo), fmt_value(hi), s.n)
                            }
                            _ => "published, not run here".into(),
                        };
                        (100 - shade, fmt_value(s.accuracy), shade > 45, interval)
                    })
                })
                .collect();
        }
    }
    tables
}

/// Trend charts over the suite's runs: gated metrics when the run was gated, else every metric.
pub fn history_view(data: &ReportData) -> Option<HistoryView> {
    let runs = &data.history;
    if runs.len() < 2 {
        return None;
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in &data.rows {
        let gated =
            data.gate.as_ref().is_none_or(|g| g.entries.iter().any(|e| e.task == r.task && e.metric == r.metric));
        if gated && !keys.contains(&(r.task.clone(), r.metric.clone())) {
            keys.push((r.task.clone(), r.metric.clone()));
        }
    }
    let charts = keys
        .into_iter()
        .map(|(task, metric)| {
            let models =
                ReportData::distinct(data.rows.iter().filter(|r| r.task == task && r.metric == metric), |r| &r.model);
            let series: Vec<Series> = models
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
            let hib = data.rows.iter().any(|r| r.task == task && r.metric == metric && r.higher_is_better);
            trend_chart(&format!("{task}: {metric}"), &axis_label(&metric, hib), runs.len(), &series)
        })
        .collect();
    Some(HistoryView { runs: runs.len(), charts })
}

/// The model with the best value of a metric, honouring its direction.
fn best_model(rows: &[&ResultRow], metric: &str) -> Option<String> {
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
