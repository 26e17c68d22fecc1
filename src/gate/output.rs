//! Gate verdicts for people and CI systems: a Markdown summary (also appended to
//! `$GITHUB_STEP_SUMMARY`), a JUnit XML file with one test case per gated metric, and JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{GateReport, Verdict};
use crate::engine::cache::write_atomic;
use crate::error::Error;
use crate::report::fmt_value;

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
        "Run `{}` against baseline `{}` ({}): {} regressed, {} improved, {} within noise, {} missing, {} new.\n",
        md_cell(&report.run_id),
        md_cell(&report.baseline_run_id),
        md_cell(&report.baseline_file),
        report.count(Verdict::Regressed),
        report.count(Verdict::Improved),
        report.count(Verdict::WithinNoise),
        report.count(Verdict::Missing),
        report.count(Verdict::New)
    );
    if report.suite_hash_changed {
        let _ = writeln!(out, "⚠️ The suite file changed since the baseline was saved; entries are matched by task, model and metric.\n");
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
        Verdict::Missing => 1,
        Verdict::Improved => 2,
        Verdict::New => 3,
        Verdict::WithinNoise => 4,
    });
    for e in entries {
        let icon = match e.verdict {
            Verdict::Regressed => "🔴",
            Verdict::Missing => "⚠️",
            Verdict::Improved => "🟢",
            Verdict::New => "🆕",
            Verdict::WithinNoise => "⚪",
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

fn xml(s: &str) -> String {
    crate::report::html::escape(s)
}

pub fn junit(report: &GateReport) -> String {
    let failures = report.entries.iter().filter(|e| e.verdict == Verdict::Regressed || (e.verdict == Verdict::Missing && report.policy.fail_on_missing)).count();
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(out, "<testsuites name=\"lmgauge gate\" tests=\"{}\" failures=\"{failures}\">", report.entries.len());
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\">",
        xml(&report.suite),
        report.entries.len(),
        report.count(Verdict::New)
    );
    for e in &report.entries {
        let _ = write!(out, "    <testcase classname=\"{}.{}\" name=\"{}\"", xml(&e.task), xml(&e.model), xml(&e.metric));
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
        match e.verdict {
            Verdict::Regressed => {
                let _ = writeln!(out, ">\n      <failure message=\"{}\" type=\"Regressed\"/>\n    </testcase>", xml(&detail));
            }
            Verdict::Missing if report.policy.fail_on_missing => {
                let _ = writeln!(out, ">\n      <failure message=\"{}\" type=\"Missing\"/>\n    </testcase>", xml(&detail));
            }
            Verdict::New => {
                let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&detail));
            }
            _ => {
                let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", xml(&detail));
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
    out
}

/// Writes `gate.json`, `gate.md` and `gate.junit.xml` into the run folder and appends the
/// Markdown to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn write(report: &GateReport, run_dir: &Path) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(report).expect("serializable");
    json.push(b'\n');
    write_atomic(&run_dir.join("gate.json"), &json)?;
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

/// Reads `gate.json` of a run, if the run was gated.
pub fn read(run_dir: &Path) -> Result<Option<GateReport>, Error> {
    let path = run_dir.join("gate.json");
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| Error::Usage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}
