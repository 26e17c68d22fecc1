//! Verdicts: every task × model × metric of a run against the baseline.
//!
//! The difference (run − baseline) is resampled with a paired bootstrap over items when both
//! sides scored the same items (else independently); the metric's direction turns it into an
//! improvement, and the verdict is Regressed or Improved only when the whole 95% interval of the
//! improvement lies beyond the tolerance band (criterion-style), WithinNoise otherwise. Entries
//! only in the baseline are Missing, entries only in the run are New.

use std::path::Path;

use super::GatePolicy;
use super::baseline;
use crate::error::Error;
use crate::metrics::Metric;
use crate::metrics::stats::{self, ItemStats};
use crate::store::gate::{GateEntry, GateReport, Verdict};
use crate::store::jobs::JobRecord;
use crate::store::{ResultRow, RunManifest};
use crate::tasks::{Task, for_suite, load_suite};

/// Gates the run in `run_dir` against the baseline at `baseline_path`.
pub fn gate_run(
    run_dir: &Path,
    baseline_path: &Path,
    policy_override: Option<GatePolicy>,
) -> Result<GateReport, Error> {
    let manifest = RunManifest::load(run_dir)?;
    if manifest.status == "running" || !RunManifest::has_results(run_dir) {
        return Err(manifest.unfinished(run_dir, ", then gate it"));
    }
    let suite = load_suite(Path::new(&manifest.suite_file))?;
    if suite.hash != manifest.suite_hash {
        return Err(Error::Usage(format!(
            "{} changed after run {} was made; gate a fresh run of the current suite",
            manifest.suite_file, manifest.run_id
        )));
    }
    let policy = policy_override.or_else(|| manifest.gate_policy.clone()).unwrap_or_default();
    policy.check().map_err(Error::Usage)?;
    let rows = baseline::measured_rows(run_dir)?;
    let records = baseline::run_records(run_dir)?;
    let (base, base_records) = baseline::load(baseline_path)?;
    if base.suite != manifest.suite {
        return Err(Error::Usage(format!(
            "{} is a baseline of suite {:?}, but run {} is of suite {:?}: gate a run against its own suite's baseline",
            baseline_path.display(),
            base.suite,
            manifest.run_id,
            manifest.suite
        )));
    }
    let base_items = baseline_path.with_file_name(&base.items_file);
    let sides = Sides {
        base: (baseline_path, &base_items),
        run: (&run_dir.join("results.csv"), &crate::store::jobs::job_dir(run_dir)),
    };
    let tasks = for_suite(&suite)?;
    let mut entries = Vec::new();
    for b in &base.entries {
        match rows.iter().find(|r| r.task == b.task && r.model == b.model && r.metric == b.metric) {
            None => entries.push(GateEntry {
                task: b.task.clone(),
                model: b.model.clone(),
                metric: b.metric.clone(),
                higher_is_better: b.higher_is_better,
                baseline: Some(b.value),
                current: None,
                delta: None,
                delta_low: None,
                delta_high: None,
                band: policy.tolerance(&b.metric).band(b.value),
                p_value: None,
                verdict: Verdict::Missing,
                note: Some("in the baseline but not in this run".into()),
            }),
            Some(r) => entries.push(compare(&tasks, &policy, manifest.seed, b, r, &base_records, &records, &sides)?),
        }
    }
    for r in &rows {
        if !base.entries.iter().any(|b| b.task == r.task && b.model == r.model && b.metric == r.metric) {
            entries.push(GateEntry {
                task: r.task.clone(),
                model: r.model.clone(),
                metric: r.metric.clone(),
                higher_is_better: r.higher_is_better,
                baseline: None,
                current: Some(r.value),
                delta: None,
                delta_low: None,
                delta_high: None,
                band: 0.0,
                p_value: None,
                verdict: Verdict::New,
                note: Some("not in the baseline; `lmgauge baseline save` adds it".into()),
            });
        }
    }
    Ok(GateReport {
        version: 1,
        suite: manifest.suite.clone(),
        run_id: manifest.run_id.clone(),
        baseline_run_id: base.run_id.clone(),
        baseline_file: baseline_path.display().to_string(),
        suite_hash_changed: base.suite_hash != manifest.suite_hash,
        policy,
        entries,
    })
}

fn find<'a>(records: &'a [JobRecord], task: &str, model: &str) -> Option<&'a JobRecord> {
    records.iter().find(|r| r.task == task && r.model == model)
}

/// Where each side's aggregates and per-item scores live, for messages.
struct Sides<'a> {
    base: (&'a Path, &'a Path),
    run: (&'a Path, &'a Path),
}

/// A stored aggregate must be what its own per-item scores give: otherwise one file was edited
/// or they come from different runs, and any verdict drawn from them would be made up.
fn check_agrees(files: (&Path, &Path), row: &ResultRow, stats: &ItemStats) -> Result<(), Error> {
    let from_items = stats.score_all();
    let same = (from_items.is_nan() && row.value.is_nan())
        || from_items == row.value
        || (from_items - row.value).abs() <= 1e-9 * from_items.abs().max(row.value.abs());
    if same {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{}: {} of {} on {} is {} but the per-item scores in {} give {from_items}: the two files disagree (edited, or from different runs); save the baseline again from one finished run",
        files.0.display(),
        row.metric,
        row.model,
        row.task,
        row.value,
        files.1.display()
    )))
}

#[allow(clippy::too_many_arguments)]
fn compare(
    tasks: &[Box<dyn Task + '_>],
    policy: &GatePolicy,
    seed: u64,
    b: &ResultRow,
    r: &ResultRow,
    base_records: &[JobRecord],
    records: &[JobRecord],
    sides: &Sides,
) -> Result<GateEntry, Error> {
    let band = policy.tolerance(&b.metric).band(b.value);
    let mut entry = GateEntry {
        task: b.task.clone(),
        model: b.model.clone(),
        metric: b.metric.clone(),
        higher_is_better: r.higher_is_better,
        baseline: Some(b.value),
        current: Some(r.value),
        delta: Some(r.value - b.value),
        delta_low: None,
        delta_high: None,
        band,
        p_value: None,
        verdict: Verdict::WithinNoise,
        note: None,
    };
    if b.value.is_nan() || r.value.is_nan() {
        entry.verdict = Verdict::NotComparable;
        entry.delta = None;
        entry.note = Some(
            match (b.value.is_nan(), r.value.is_nan()) {
                (true, true) => "undefined in the baseline and in this run",
                (true, false) => "undefined in the baseline: save a new baseline to gate it",
                _ => "undefined in this run, though the baseline has a value",
            }
            .into(),
        );
        return Ok(entry);
    }
    let task = tasks.iter().find(|t| t.def().id == b.task);
    let (Some(task), Ok(metric)) = (task, b.metric.parse::<Metric>()) else {
        entry.note = Some("the task or metric is no longer in the suite: compared by value and band only".into());
        entry.verdict = verdict_from(entry.delta.unwrap_or(0.0), entry.delta.unwrap_or(0.0), r.higher_is_better, band);
        return Ok(entry);
    };
    let missing = |files: (&Path, &Path)| {
        Error::Usage(format!(
            "{}: {} of {} on {} has no per-item scores in {}: the two files disagree; save the baseline again from one finished run",
            files.0.display(),
            b.metric,
            b.model,
            b.task,
            files.1.display()
        ))
    };
    if !task.resamples_items(metric) {
        entry.note = Some(format!("{metric} is a percentile over tokens: compared by value and band only"));
        entry.verdict = verdict_from(entry.delta.unwrap_or(0.0), entry.delta.unwrap_or(0.0), r.higher_is_better, band);
        return Ok(entry);
    }
    // A row's scores are in its job's records (a preference judge's `model:mean` is `model`'s).
    let record_model = task.job_model(&b.model);
    let base_rec = find(base_records, &b.task, record_model).ok_or_else(|| missing(sides.base))?;
    let cur_rec = find(records, &b.task, record_model).ok_or_else(|| missing(sides.run))?;
    let base_stats = task.item_stats(metric, base_rec, &b.model);
    let cur_stats = task.item_stats(metric, cur_rec, &b.model);
    check_agrees(sides.base, b, &base_stats)?;
    check_agrees(sides.run, r, &cur_stats)?;
    if base_stats.is_empty() || cur_stats.is_empty() {
        entry.verdict = Verdict::NotComparable;
        entry.note = Some("no per-item scores to resample on one side: no verdict".into());
        return Ok(entry);
    }
    let aligned = base_rec.items.len() == cur_rec.items.len()
        && base_rec.items.iter().zip(&cur_rec.items).all(|(x, y)| x.id == y.id);
    let mut rng = stats::stream(seed, &format!("gate/{}/{}/{}", b.task, b.model, b.metric));
    let deltas: Vec<f64> = if aligned {
        stats::bootstrap(cur_stats.len(), policy.resamples, &mut rng, |s| {
            cur_stats.score_of(s) - base_stats.score_of(s)
        })
    } else {
        entry.note = Some("items differ from the baseline's: unpaired bootstrap".into());
        let (nb, nc) = (base_stats.len(), cur_stats.len());
        (0..policy.resamples)
            .map(|_| {
                let sc: Vec<usize> = (0..nc).map(|_| stats::below(&mut rng, nc)).collect();
                let sb: Vec<usize> = (0..nb).map(|_| stats::below(&mut rng, nb)).collect();
                cur_stats.score_of(&sc) - base_stats.score_of(&sb)
            })
            .collect()
    };
    let Some((lo, hi)) = stats::percentile_interval(&deltas) else {
        entry.verdict = Verdict::NotComparable;
        entry.note = Some("the difference is undefined on some resamples: no verdict".into());
        return Ok(entry);
    };
    entry.delta_low = Some(lo);
    entry.delta_high = Some(hi);
    if aligned {
        entry.p_value = Some(p_value(policy, &base_stats, &cur_stats, &mut rng));
    }
    entry.verdict = verdict_from(lo, hi, r.higher_is_better, band);
    if metric.is_descriptive() {
        entry.verdict = Verdict::WithinNoise;
        entry.note = Some("descriptive metric: the change is reported, not judged".into());
    }
    Ok(entry)
}

fn p_value(policy: &GatePolicy, base: &ItemStats, cur: &ItemStats, rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
    // Identical per-item scores are no evidence of change (sacrebleu's convention would say
    // p = 1/(n+1) here, which reads as significant).
    if base.rows == cur.rows {
        return 1.0;
    }
    if policy.test == "paired-ar" {
        stats::paired_approximate_randomization(base, cur, policy.resamples.max(1000), rng).p_value
    } else {
        stats::paired_bootstrap(base, cur, policy.resamples, rng).p_value
    }
}

/// The verdict of a difference interval `[lo, hi]` (run − baseline) against a band.
pub fn verdict_from(lo: f64, hi: f64, higher_is_better: bool, band: f64) -> Verdict {
    let (worse_bound, better_bound) = if higher_is_better { (hi, lo) } else { (-lo, -hi) };
    if worse_bound < -band {
        Verdict::Regressed
    } else if better_bound > band {
        Verdict::Improved
    } else {
        Verdict::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_need_the_interval_beyond_the_band() {
        assert_eq!(verdict_from(0.0, 0.0, true, 0.0), Verdict::WithinNoise);
        assert_eq!(verdict_from(1.0, 2.0, true, 0.5), Verdict::Improved);
        assert_eq!(verdict_from(1.0, 2.0, true, 1.5), Verdict::WithinNoise);
        assert_eq!(verdict_from(-2.0, -1.0, true, 0.5), Verdict::Regressed);
        assert_eq!(verdict_from(-2.0, 0.1, true, 0.0), Verdict::WithinNoise);
        // Lower is better (perplexity): a rise is a regression.
        assert_eq!(verdict_from(3.0, 5.0, false, 1.0), Verdict::Regressed);
        assert_eq!(verdict_from(-5.0, -3.0, false, 1.0), Verdict::Improved);
    }
}
