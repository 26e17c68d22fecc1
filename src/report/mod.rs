//! Reports rendered from a run's stored files only (`run.json`, `results.csv`): `summary.md`,
//! a self-contained `index.html` with inline SVG charts, `results.json` for programs, and the
//! terminal table of `lmgauge show`. `lmgauge report RUN_DIR` and the end
//! of every run call the same [`render`].

pub mod charts;
pub mod html;
mod human_view;
pub mod markdown;
pub mod results_json;
pub mod terminal;
mod views;

use std::path::Path;

use crate::error::Error;
pub use crate::store::format::fmt_value;
use crate::store::jobs::write_atomic;
use crate::store::tables::{
    AgreementRow, Disagreement, GenerationRow, HumanAgreementRow, JudgeRow, PairwiseRow, SubsetRow, SystemPoint,
    read_human_agreement, read_json, read_judges_csv, read_pairwise_csv,
};
use crate::store::{ResultRow, RunManifest, read_results_csv};

/// A model kind's family for the overview and the judges' tables: (css class, label).
pub fn family(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "ngram" => ("fam-ngram", "n-gram"),
        "masked" => ("fam-masked", "masked"),
        "causal" => ("fam-causal", "causal"),
        "outputs" => ("fam-outputs", "stored outputs"),
        "reward" | "metric" | "encoder" => ("fam-judge", "judge"),
        _ => ("fam-baseline", "baseline"),
    }
}

/// Everything a report shows.
pub struct ReportData {
    pub manifest: RunManifest,
    pub rows: Vec<ResultRow>,
    pub pairwise: Vec<PairwiseRow>,
    /// Verdicts, when the run was gated.
    pub gate: Option<crate::store::gate::GateReport>,
    /// Every run of the suite found beside this one (oldest first), for trend charts.
    pub history: Vec<crate::store::history::HistoryRun>,
    /// Preference tasks: `judges.csv` and `agreement.csv`.
    pub judges: Vec<JudgeRow>,
    pub agreement: Vec<AgreementRow>,
    /// Preference tasks: per-subset accuracy and examples the best judge gets wrong.
    pub subsets: Vec<SubsetRow>,
    pub disagreements: Vec<Disagreement>,
    /// Generation tasks: prompts, references and outputs of the first items.
    pub generations: Vec<GenerationRow>,
    /// Human-agreement tasks: `human-agreement.csv` and `human-systems.json`.
    pub human: Vec<HumanAgreementRow>,
    pub systems: Vec<SystemPoint>,
}

impl ReportData {
    pub fn load(run_dir: &Path) -> Result<ReportData, Error> {
        let manifest = RunManifest::load(run_dir)?;
        if !RunManifest::has_results(run_dir) {
            return Err(manifest.unfinished(run_dir, ""));
        }
        let rows = read_results_csv(&run_dir.join("results.csv"))?;
        let pairwise = read_pairwise_csv(&run_dir.join("pairwise.csv"))?;
        let gate = crate::store::gate::read(run_dir)?;
        let history = match run_dir.canonicalize().ok().and_then(|d| d.parent().map(Path::to_path_buf)) {
            Some(parent) => crate::store::history::collect(&parent).unwrap_or_default(),
            None => Vec::new(),
        };
        let (judges, agreement) = read_judges_csv(run_dir)?;
        let subsets = read_json(&run_dir.join("subsets.json"))?;
        let disagreements = read_json(&run_dir.join("disagreements.json"))?;
        let generations = read_json(&run_dir.join("generations.json"))?;
        let (human, systems) = read_human_agreement(run_dir)?;
        Ok(ReportData {
            human,
            systems,
            manifest,
            rows,
            pairwise,
            gate,
            history,
            judges,
            agreement,
            subsets,
            disagreements,
            generations,
        })
    }

    /// Task ids in manifest order, then any others found in the results.
    pub fn task_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.manifest.tasks.iter().map(|t| t.id.clone()).collect();
        for r in &self.rows {
            if !ids.contains(&r.task) {
                ids.push(r.task.clone());
            }
        }
        ids.retain(|t| self.rows.iter().any(|r| &r.task == t) || self.manifest.jobs.iter().any(|j| &j.task == t));
        ids
    }

    pub fn rows_of<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a ResultRow> + 'a {
        self.rows.iter().filter(move |r| r.task == task)
    }

    /// Distinct values in first-seen order.
    pub fn distinct<'a>(rows: impl Iterator<Item = &'a ResultRow>, f: impl Fn(&ResultRow) -> &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in rows {
            let v = f(r);
            if !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        }
        out
    }
}

/// A p-value matrix: for one task and metric, the models and, per ordered pair, the test that
/// compared them.
pub struct PairMatrix<'a> {
    pub metric: String,
    pub test: String,
    pub models: Vec<String>,
    rows: Vec<&'a PairwiseRow>,
}

impl<'a> PairMatrix<'a> {
    /// `(row − column difference, p-value)` for two models, when they were compared.
    pub fn cell(&self, row: &str, col: &str) -> Option<(f64, f64)> {
        self.rows.iter().find_map(|r| {
            if r.model_a == row && r.model_b == col {
                Some((r.value_a - r.value_b, r.p_value))
            } else if r.model_a == col && r.model_b == row {
                Some((r.value_b - r.value_a, r.p_value))
            } else {
                None
            }
        })
    }
}

impl ReportData {
    /// The p-value matrices of a task, one per metric, in metric order.
    pub fn matrices(&self, task: &str) -> Vec<PairMatrix<'_>> {
        let rows: Vec<&PairwiseRow> = self.pairwise.iter().filter(|r| r.task == task).collect();
        let mut metrics: Vec<String> = Vec::new();
        for r in &rows {
            if !metrics.contains(&r.metric) {
                metrics.push(r.metric.clone());
            }
        }
        metrics
            .into_iter()
            .map(|metric| {
                let of: Vec<&PairwiseRow> = rows.iter().copied().filter(|r| r.metric == metric).collect();
                let mut models: Vec<String> = Vec::new();
                for r in &of {
                    for m in [&r.model_a, &r.model_b] {
                        if !models.contains(m) {
                            models.push(m.clone());
                        }
                    }
                }
                let test = of.first().map(|r| r.test.clone()).unwrap_or_default();
                PairMatrix { metric, test, models, rows: of }
            })
            .collect()
    }
}

/// Writes `summary.md`, `index.html` and `results.json` into the run directory.
pub fn render(run_dir: &Path) -> Result<(), Error> {
    let data = ReportData::load(run_dir)?;
    results_json::write(&data, run_dir)?;
    write_atomic(&run_dir.join("summary.md"), markdown::summary(&data).as_bytes())?;
    write_atomic(&run_dir.join("index.html"), html::page(&data).as_bytes())?;
    Ok(())
}
