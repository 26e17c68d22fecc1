//! `index.html`: one self-contained page (inline CSS, SVG and one small script that sorts tables; no external requests),
//! rendered by askama from `templates/report.html`. askama escapes every value it writes; only
//! the charts (plotters' SVG, which escapes its own text) and the style sheet are marked safe.

use askama::Template;

use super::ReportData;
use super::views::{GateView, HistoryView, OverviewView, TaskView, gate_view, history_view, overview_view, task_view};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}\
th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}.ci{color:#777;font-size:.85em}\
.best{font-weight:bold}.note{color:#555;font-size:.9em}.failed{color:#a00}.charts{display:flex;flex-wrap:wrap;gap:1rem}\
code{background:#f3f3f3;padding:0 .2rem}.gate td:nth-child(-n+4),.gate th:nth-child(-n+4){text-align:left}\
details{margin:.8rem 0}summary{cursor:pointer;font-weight:600;font-size:1.05em}.toc{background:#f7f7f7;padding:.5rem .8rem;line-height:1.7}\
.scoreboard th{vertical-align:bottom}.scoreboard td{white-space:nowrap}.fam{border-radius:3px;padding:0 .35rem;font-size:.8em;white-space:nowrap}.fam-ngram{background:#dde8f6}\
.fam-masked{background:#e6dcf3}.fam-causal{background:#dcefdf}.fam-outputs{background:#f6e6d6}.fam-judge{background:#f3dede}.fam-baseline{background:#eee}\
section{scroll-margin-top:1rem}.pairs td{text-align:left;vertical-align:top;white-space:pre-wrap;max-width:22rem;font-size:.85em}.wide{overflow-x:auto}";

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    style: &'static str,
    suite: &'a str,
    description: Option<&'a str>,
    run_id: &'a str,
    seed: u64,
    resamples: usize,
    hash: String,
    version: &'a str,
    commit: Option<&'a str>,
    gate: Option<GateView<'a>>,
    overview: Option<OverviewView>,
    tasks: Vec<TaskView<'a>>,
    history: Option<HistoryView>,
    /// (id, kind, description)
    models: Vec<(&'a str, &'a str, &'a str)>,
    /// (task, model, error)
    failed: Vec<(&'a str, &'a str, &'a str)>,
}

pub fn page(data: &ReportData) -> String {
    let m = &data.manifest;
    let page = Page {
        style: STYLE,
        suite: &m.suite,
        description: m.suite_description.as_deref(),
        run_id: &m.run_id,
        seed: m.seed,
        resamples: m.bootstrap_resamples,
        hash: m.short_hash(),
        version: &m.tool_version,
        commit: m.git_commit.as_deref().map(|c| &c[..c.len().min(10)]),
        gate: data.gate.as_ref().map(gate_view),
        overview: overview_view(data),
        tasks: data.task_ids().into_iter().map(|t| task_view(data, t)).collect(),
        history: history_view(data),
        models: m.models.iter().map(|x| (x.id.as_str(), x.kind.as_str(), x.description.as_str())).collect(),
        failed: m
            .jobs
            .iter()
            .filter(|j| j.status != "done")
            .map(|j| (j.task.as_str(), j.model.as_str(), j.error.as_deref().unwrap_or("unknown error")))
            .collect(),
    };
    // Rendering into a String fails only on a formatting error of a value, which these types
    // do not have.
    page.render().unwrap_or_else(|e| format!("<!DOCTYPE html><p>report could not be rendered: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_from_data_is_escaped() {
        let page = Page {
            style: STYLE,
            suite: "<script>alert('x')</script>",
            description: Some("a & \"b\""),
            run_id: "r",
            seed: 1,
            resamples: 10,
            hash: "h".into(),
            version: "v",
            commit: None,
            gate: None,
            overview: None,
            tasks: Vec::new(),
            history: None,
            models: vec![("<m>", "ngram", "<i>d</i>")],
            failed: vec![("t", "m", "<err>")],
        };
        let html = page.render().unwrap();
        // The one script is the page's own table sorter, never text from data.
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(
            !html.contains("alert('x')") && !html.contains("<m>") && !html.contains("<i>") && !html.contains("<err>")
        );
        // askama's HTML escaper writes numeric references.
        assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"), "{html}");
        assert!(html.contains("a &#38; &#34;b&#34;"), "{html}");
    }
}
