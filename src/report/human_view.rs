//! The human-agreement view of a task: per human dimension, the judges ranked by their agreement
//! with people (every statistic the task computed, with its 95% interval), the judges a
//! permutation test cannot separate from the best marked as tied with it, and a scatter of
//! people's mean score against the best judge's score per system.

use super::charts::scatter_chart;
use super::{ReportData, family, fmt_value};
use crate::store::tables::HumanAgreementRow;

pub struct HumanView {
    pub dimensions: Vec<HumanDimension>,
}

pub struct HumanDimension {
    /// The human dimension (empty for daRR pairs).
    pub name: String,
    pub statistics: Vec<String>,
    pub rows: Vec<HumanJudgeRow>,
    pub scatter: String,
    /// Judges, in the ranking's order, heading the systems table.
    pub judges: Vec<String>,
    /// Per system (by people's mean, unrated ones last): people's mean and each judge's system
    /// score with its rank among the systems — where a human reference added as a system lands.
    pub systems: Vec<(String, String, Vec<String>)>,
}

pub struct HumanJudgeRow {
    pub judge: String,
    /// The judge's family: (css class, label), coloured as elsewhere in the report.
    pub family: (&'static str, &'static str),
    pub cells: Vec<Option<HumanCell>>,
}

pub struct HumanCell {
    pub value: String,
    pub low: String,
    pub high: String,
    pub best: bool,
    pub tied: bool,
    /// "p=…" against the best (Holm-adjusted), empty for the best itself.
    pub p: String,
}

/// The view of `task`, or `None` when it is no human-agreement task.
pub fn human_view(data: &ReportData, task: &str) -> Option<HumanView> {
    let rows: Vec<&HumanAgreementRow> = data.human.iter().filter(|r| r.task == task).collect();
    if rows.is_empty() {
        return None;
    }
    let mut dimensions = Vec::new();
    for name in distinct(rows.iter().map(|r| r.dimension.as_str())) {
        let of: Vec<&HumanAgreementRow> = rows.iter().copied().filter(|r| r.dimension == name).collect();
        let statistics = distinct(of.iter().map(|r| r.statistic.as_str()));
        let mut judges = distinct(of.iter().map(|r| r.judge.as_str()));
        // Ranked by the first statistic; unranked (undefined) judges last.
        let rank = |j: &str| {
            of.iter().find(|r| r.judge == j && r.statistic == statistics[0]).map_or(usize::MAX, |r| match r.rank {
                0 => usize::MAX,
                k => k,
            })
        };
        judges.sort_by_key(|j| rank(j));
        let table = judges
            .iter()
            .map(|j| HumanJudgeRow {
                judge: j.clone(),
                family: family_of(data, j),
                cells: statistics
                    .iter()
                    .map(|s| {
                        of.iter().find(|r| &r.judge == j && &r.statistic == s).map(|r| HumanCell {
                            value: if r.value.is_nan() { "undefined".into() } else { fmt_value(r.value) },
                            low: fmt_value(r.ci_low),
                            high: fmt_value(r.ci_high),
                            best: r.rank == 1,
                            tied: r.tied_with_best && r.rank != 1,
                            p: if r.p_vs_best.is_nan() {
                                String::new()
                            } else {
                                format!("p={}", fmt_value(r.p_vs_best))
                            },
                        })
                    })
                    .collect(),
            })
            .collect();
        let scatter = judges
            .first()
            .map(|best| {
                let points: Vec<(String, f64, f64)> = data
                    .systems
                    .iter()
                    .filter(|p| p.task == task && p.dimension == name && &p.judge == best)
                    .map(|p| (p.system.clone(), p.score, p.human))
                    .collect();
                scatter_chart(
                    &format!("{task}: systems, {best} against people ({name})"),
                    &format!("{best} (system score)"),
                    &format!("mean human {name}"),
                    &points,
                )
            })
            .unwrap_or_default();
        let systems = systems_table(data, task, &name, &judges);
        dimensions.push(HumanDimension { name, statistics, rows: table, scatter, judges, systems });
    }
    Some(HumanView { dimensions })
}

/// Systems of one dimension: people's mean, then each judge's score and rank among the systems.
fn systems_table(
    data: &ReportData,
    task: &str,
    dimension: &str,
    judges: &[String],
) -> Vec<(String, String, Vec<String>)> {
    let points: Vec<_> = data.systems.iter().filter(|p| p.task == task && p.dimension == dimension).collect();
    let mut systems = distinct(points.iter().map(|p| p.system.as_str()));
    let human = |s: &str| points.iter().find(|p| p.system == s).map_or(f64::NAN, |p| p.human);
    // People's best first; unrated systems (human references) after, in their order.
    systems.sort_by(|a, b| match (human(a).is_nan(), human(b).is_nan()) {
        (false, false) => human(b).total_cmp(&human(a)),
        (x, y) => x.cmp(&y),
    });
    systems
        .iter()
        .map(|s| {
            let cells = judges
                .iter()
                .map(|j| {
                    let of: Vec<f64> = points.iter().filter(|p| &p.judge == j).map(|p| p.score).collect();
                    match points.iter().find(|p| &p.judge == j && &p.system == s).map(|p| p.score) {
                        Some(v) if !v.is_nan() => {
                            let rank = 1 + of.iter().filter(|&&o| o > v).count();
                            format!("{} (#{rank})", fmt_value(v))
                        }
                        _ => "–".into(),
                    }
                })
                .collect();
            let h = human(s);
            (s.clone(), if h.is_nan() { "not rated".into() } else { fmt_value(h) }, cells)
        })
        .collect()
}

/// The family of a judge: its model's kind from the run's manifest.
fn family_of(data: &ReportData, judge: &str) -> (&'static str, &'static str) {
    let model = judge.split(':').next().unwrap_or(judge);
    let kind = data.manifest.models.iter().find(|m| m.id == model).map_or("metric", |m| m.kind.as_str());
    family(kind)
}

fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}
