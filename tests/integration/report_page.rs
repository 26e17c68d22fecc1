//! The report people read first: index.html opens on an overview scoreboard (models × tasks,
//! headline metric, best per column, families, paired-test flags) under a table of contents, each
//! task shows one chart of its headline metric with the others behind a toggle, detail sections
//! fold, every chart has axis titles and a legend, and the page renders in headless Chromium
//! without a console message (scripts/check-report.sh).

use std::path::{Path, PathBuf};

use crate::common::{fixture, lmgauge, repo, stderr, workspace};

/// A run with n-gram models on perplexity and minimal pairs, and stored outputs on a reference
/// task: three families, three task types, paired tests on two of them.
fn small_run(dir: &Path) -> PathBuf {
    let train = fixture("kenlm/wiki-train.txt");
    let test = fixture("kenlm/wiki-query.txt");
    let wmt = |f: &str| repo().join("data/wmt17-en-de").join(f).display().to_string();
    let pairs: String = (0..40)
        .map(|i| {
            format!(
                "{{\"sentence_good\": \"the game was played in the city {i} .\", \"sentence_bad\": \"the game were played in the city {i} .\", \"UID\": \"agreement-{}\", \"linguistics_term\": \"t\", \"field\": \"f\"}}\n",
                i % 3
            )
        })
        .collect();
    std::fs::write(dir.join("pairs.jsonl"), pairs).unwrap();
    let suite = format!(
        "version: 1
name: page
seed: 3
bootstrap: 100
models:
  - {{id: kn2, kind: ngram, train: {train}, order: 2, skip_symbols: true}}
  - {{id: kn3, kind: ngram, train: {train}, order: 3, skip_symbols: true}}
  - {{id: uedin, kind: outputs, path: {uedin}}}
  - {{id: kit, kind: outputs, path: {kit}}}
tasks:
  - {{id: ppl, type: perplexity, dataset: {{path: {test}, unit: line, limit: 40}}, models: [kn2, kn3], metrics: [bits_per_byte, word_perplexity]}}
  - {{id: pairs, type: minimal-pairs, dataset: {{path: pairs.jsonl}}, models: [kn2, kn3], metrics: [accuracy, tie_rate]}}
  - {{id: wmt, type: reference, dataset: {{path: {reference}}}, models: [uedin, kit], metrics: [bleu, chrf]}}
",
        train = train.display(),
        test = test.display(),
        uedin = wmt("newstest2017.uedin-nmt.4722.hyp.de"),
        kit = wmt("newstest2017.KIT.4950.hyp.de"),
        reference = wmt("newstest2017.ref.de"),
    );
    std::fs::write(dir.join("suite.yaml"), suite).unwrap();
    let o = lmgauge(dir, &["-q", "run-suite", "suite.yaml", "--out-dir", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::canonicalize(dir.join("out/page/latest")).unwrap()
}

#[test]
fn the_page_opens_on_an_overview_and_folds_its_details() {
    let dir = workspace(&[]);
    let run = small_run(dir.path());
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    // Contents first, then the overview, then the tasks.
    let (toc, overview, first_task) = (
        html.find("<nav class=\"toc\">").unwrap(),
        html.find("<section id=\"overview\">").unwrap(),
        html.find("<section id=\"task-ppl\">").unwrap(),
    );
    assert!(toc < overview && overview < first_task);
    for anchor in ["#overview", "#task-ppl", "#task-pairs", "#task-wmt", "#models"] {
        assert!(html[toc..overview].contains(&format!("href=\"{anchor}\"")), "{anchor}");
    }
    // The scoreboard: one row per model, one column per task with its headline metric (the
    // suite's first), families tagged, the best per column marked.
    let board = &html[overview..first_task];
    for header in ["bits_per_byte ↓", "accuracy ↑", "bleu ↑"] {
        assert!(board.contains(header), "{header}: {board}");
    }
    assert!(!board.contains("word_perplexity") && !board.contains("tie_rate"), "only headline metrics");
    assert_eq!(board.matches("<tr><td>").count(), 4, "{board}");
    assert!(board.contains("fam-ngram\">n-gram") && board.contains("fam-outputs\">stored outputs"), "{board}");
    // The best per task, and every model tied with it (both n-gram models get every pair right).
    assert_eq!(board.matches(" ★</td>").count() + board.matches(" ★ ‡</td>").count(), 4, "{board}");
    // uedin-nmt beats KIT by the paired bootstrap on all of newstest2017; both n-gram models get
    // every (easy) pair right, so McNemar cannot separate them; perplexity has no paired test.
    assert_eq!(board.matches(" ‡").count(), 1, "{board}");
    let uedin = board.lines().find(|l| l.starts_with("<tr><td>uedin</td>")).unwrap();
    assert!(uedin.contains("★ ‡</td>"), "{uedin}");
    // Each task: one chart in view, the other metric's chart behind a toggle; detail sections fold.
    for task in ["ppl", "pairs", "wmt"] {
        let start = html.find(&format!("<section id=\"task-{task}\">")).unwrap();
        let section = &html[start..start + html[start..].find("</section>").unwrap()];
        let folded = section.find("<details><summary>Charts of the other metrics (1)</summary>").expect(task);
        assert_eq!(
            section[..folded].matches("<svg").count() - section[..folded].matches("accuracy by").count(),
            1,
            "{task}"
        );
        assert_eq!(section[folded..].matches("<svg").count(), 1, "{task}");
        // Every chart has axis titles with units and a legend.
        assert!(section.contains(">\nmodel\n</text>") && section.contains("is better)\n</text>"), "{task}");
        assert!(section.contains(">\n95% interval\n</text>") && section.contains(">\nvalue\n</text>"), "{task}");
    }
    assert!(html.contains("<details><summary>Pairwise tests: accuracy</summary>"));
    assert!(html.contains("<details><summary>Pairwise tests: bleu</summary>"));
    assert!(html.contains("<details open><summary>Accuracy by UID</summary>"));
    assert!(html.contains(">\nchance\n</text>"), "accuracy charts draw chance");
    assert!(html.contains("accuracy (share of pairs, 0–1; higher is better)"), "the group chart's axis");
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_messages() {
    let browser = ["chromium", "chromium-browser", "google-chrome"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !browser {
        assert!(
            std::env::var_os("LMGAUGE_REQUIRE_CHROMIUM").is_none(),
            "LMGAUGE_REQUIRE_CHROMIUM is set but Chromium is not installed"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    }
    let dir = workspace(&[]);
    let run = small_run(dir.path());
    let script = repo().join("scripts/check-report.sh");
    let shot = dir.path().join("overview.png");
    let o = std::process::Command::new(&script).arg(&run).arg(&shot).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot of the page");
    // The check can fail: a page whose script throws is refused.
    let broken =
        std::fs::read_to_string(run.join("index.html")).unwrap().replacen("<script>", "<script>noSuchFunction();", 1);
    std::fs::write(run.join("index.html"), broken).unwrap();
    let o = std::process::Command::new(&script).arg(&run).arg(&shot).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("noSuchFunction is not defined"), "{}", stderr(&o));
}
