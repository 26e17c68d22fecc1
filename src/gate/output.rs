//! Gate verdicts for people and CI systems: a Markdown summary (also appended to
//! `$GITHUB_STEP_SUMMARY`), a JUnit XML file with one test case per gated metric, and JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{GateReport, Verdict};
use crate::error::Error;
use crate::store::format::fmt_value;
use crate::store::jobs::write_atomic;

fn opt(v: Option<f64>) -> String {
    v.map(fmt_value).unwrap_or_else(|| "–".into())
}

fn signed(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{}{}", if x >= 0.0 { "+" } else { "" }, fmt_value(x)),
        _ => "–".into(),
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(report: &GateReport) -> String {
    let mut out = String::new();
    let status = if report.failed() { "❌ failed" } else { "✅ passed" };
    let _ = writeln!(out, "## lmgauge gate: {} — {status}\n", md_cell(&report.suite));
    let _ = writeln!(
        out,
        "Run `{}` against baseline `{}` ({}): {} regressed, {} improved, {} within noise, {} missing, {} new, {} not comparable.\n",
        md_cell(&report.run_id),
        md_cell(&report.baseline_run_id),
        md_cell(&report.baseline_file),
        report.count(Verdict::Regressed),
        report.count(Verdict::Improved),
        report.count(Verdict::WithinNoise),
        report.count(Verdict::Missing),
        report.count(Verdict::New),
        report.count(Verdict::NotComparable)
    );
    if report.suite_hash_changed {
        let _ = writeln!(
            out,
            "⚠️ The suite file changed since the baseline was saved; entries are matched by task, model and metric.\n"
        );
    }
    let _ = writeln!(
        out,
        "A change is a verdict only when the whole 95% interval of run − baseline (paired bootstrap, {} resamples) lies beyond the tolerance band.\n",
        report.policy.resamples
    );
    let _ = writeln!(out, "| verdict | task | model | metric | baseline | run | Δ [95% interval] | band | p |");
    let _ = writeln!(out, "|---|---|---|---|---:|---:|---:|---:|---:|");
    let mut entries: Vec<_> = report.entries.iter().collect();
    // Problems first; otherwise the report's order.
    entries.sort_by_key(|e| match e.verdict {
        Verdict::Regressed => 0,
        Verdict::NotComparable if e.fails(report.policy.fail_on_missing) => 1,
        Verdict::Missing => 2,
        Verdict::Improved => 3,
        Verdict::New => 4,
        Verdict::NotComparable => 5,
        Verdict::WithinNoise => 6,
    });
    for e in entries {
        let icon = match e.verdict {
            Verdict::Regressed => "🔴",
            Verdict::Missing => "⚠️",
            Verdict::Improved => "🟢",
            Verdict::New => "🆕",
            Verdict::WithinNoise => "⚪",
            Verdict::NotComparable => "❔",
        };
        let interval = match (e.delta_low, e.delta_high) {
            (Some(lo), Some(hi)) => format!(" [{}, {}]", signed(Some(lo)), signed(Some(hi))),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {icon} {} | {} | {} | {} {} | {} | {} | {}{interval} | {} | {} |",
            e.verdict.name(),
            md_cell(&e.task),
            md_cell(&e.model),
            md_cell(&e.metric),
            if e.higher_is_better { "↑" } else { "↓" },
            opt(e.baseline),
            opt(e.current),
            signed(e.delta),
            fmt_value(e.band),
            e.p_value.map(|p| format!("{p:.4}")).unwrap_or_else(|| "–".into())
        );
    }
    out
}

/// JUnit XML (through quick-junit, which escapes every string): one test case per gated metric,
/// failed when it regressed (or went missing, when the policy fails on that), skipped when new.
pub fn junit(report: &GateReport) -> String {
    let mut suite = TestSuite::new(report.suite.as_str());
    for e in &report.entries {
        let detail = format!(
            "{}: baseline {} run {} delta {} interval [{}, {}] band {}",
            e.verdict.name(),
            opt(e.baseline),
            opt(e.current),
            signed(e.delta),
            signed(e.delta_low),
            signed(e.delta_high),
            fmt_value(e.band)
        );
        let status = match e.verdict {
            _ if e.fails(report.policy.fail_on_missing) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(detail.as_str()).set_type(e.verdict.name());
                s
            }
            Verdict::New | Verdict::NotComparable => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(detail.as_str());
                s
            }
            _ => TestCaseStatus::success(),
        };
        let passed = matches!(status, TestCaseStatus::Success { .. });
        let mut case = TestCase::new(e.metric.as_str(), status);
        case.set_classname(format!("{}.{}", e.task, e.model));
        if passed {
            case.set_system_out(detail);
        }
        suite.add_test_case(case);
    }
    let mut out = Report::new("lmgauge gate");
    out.add_test_suite(suite);
    out.to_string().expect("a report in memory serializes")
}

/// Writes `gate.json`, `gate.md` and `gate.junit.xml` into the run folder and appends the
/// Markdown to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn write(report: &GateReport, run_dir: &Path) -> Result<(), Error> {
    crate::store::gate::write_json(report, run_dir)?;
    let md = markdown(report);
    write_atomic(&run_dir.join("gate.md"), md.as_bytes())?;
    write_atomic(&run_dir.join("gate.junit.xml"), junit(report).as_bytes())?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = Path::new(&summary);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
        f.write_all(md.as_bytes()).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
