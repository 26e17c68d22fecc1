//! Snapshots (insta) of what people read: every command's `--help`, the diagnostics of an invalid
//! suite, the JSON the metric and model commands print, and each section of the HTML report of a
//! run with perplexity, reference, preference and generation tasks. A change to any of them shows
//! up as a snapshot diff to review (`cargo insta review`).

use std::path::Path;

use crate::common::{fixture, lmgauge, repo, stderr, stdout, workspace};

/// Replaces what differs between machines and runs: the temporary folder, run ids, hashes,
/// commits and timings.
fn redact(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&dir.display().to_string(), "<dir>").replace(&repo().display().to_string(), "<repo>");
    for (pattern, with) in [
        (r"\d{8}-\d{6}(-\d+)?", "<run-id>"),
        // The suite file names absolute paths of the checkout, so its hash differs between clones.
        (r"suite hash <code>[0-9a-f]{12}</code>", "suite hash <code><hash></code>"),
        (r"suite hash `[0-9a-f]{12}`", "suite hash `<hash>`"),
        (r"commit <code>[0-9a-f]+</code>", "commit <code><commit></code>"),
        (r"\d+\.\d+ s\b", "<seconds> s"),
    ] {
        out = regex::Regex::new(pattern).unwrap().replace_all(&out, with).into_owned();
    }
    out
}

#[test]
fn every_command_explains_itself() {
    let dir = workspace(&[]);
    // Every subcommand, found from the parser itself so that a new one cannot be left out.
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut next = path.clone();
            next.push(sub.get_name().to_owned());
            walk(sub, next, out);
        }
    }
    let mut commands = Vec::new();
    walk(&<lmgauge::cli::Cli as clap::CommandFactory>::command(), Vec::new(), &mut commands);
    assert!(commands.len() > 15, "{commands:?}");
    let mut all = String::new();
    for c in &commands {
        let mut args: Vec<&str> = c.iter().map(String::as_str).collect();
        args.push("--help");
        let o = lmgauge(dir.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        all.push_str(&format!("$ lmgauge {}\n{}\n", args.join(" "), stdout(&o)));
    }
    insta::assert_snapshot!("cli_help", all);
}

#[test]
fn an_invalid_suite_lists_every_problem_with_its_place() {
    let s = "version: 1
name: broken
bootstrap: 0
models:
  - {id: kn, kind: ngram, train: missing.txt, order: 99}
  - {id: out, kind: outputs, path: outputs.txt}
  - {id: kn, kind: ngram, arpa: lm.arpa}
  - {id: longer, kind: length}
tasks:
  - id: ppl
    type: perplexity
    dataset: {path: text.txt}
    models: [kn, out, ghost]
    metrics: [word_perplexity, bleu]
  - id: prefs
    type: preference
    layout: sideways
    dataset: {path: pairs.jsonl}
    models: [longer]
    metrics: [accuracy]
  - id: gen
    type: generation
    dataset: {path: text.txt}
    models: [out]
    metrics: [bleu]
    strategy: greedy
    top_k: 5
";
    let dir = workspace(&[("suite.yaml", s), ("text.txt", "a b c\n"), ("outputs.txt", "x\n"), ("pairs.jsonl", "{}\n")]);
    let o = lmgauge(dir.path(), &["validate", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    insta::assert_snapshot!("suite_diagnostics", redact(&stderr(&o), dir.path()));
    // Keys and types are checked first, every entry's problems together.
    let typed = "version: 1\nname: t\nmodels:\n  - {id: a, kind: ngram, train: x.txt, order: three}\n  - {id: b, kind: ngram, arpa: x.arpa, colour: blue}\n  - {id: c, kind: quantum}\ntasks: []\n";
    std::fs::write(dir.path().join("typed.yaml"), typed).unwrap();
    let o = lmgauge(dir.path(), &["validate", "typed.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    insta::assert_snapshot!("suite_type_diagnostics", redact(&stderr(&o), dir.path()));
    // A task's own keys are read by its type, in the same pass as the rest of the suite.
    let tasks = "version: 1
name: t
models:
  - {id: kn, kind: ngram, train: text.txt, order: 2}
tasks:
  - {id: p, type: perplexity, dataset: {path: text.txt}, models: [kn], metrics: [bits_per_byte], colour: blue}
  - {id: g, type: generation, dataset: {path: pairs.jsonl}, models: [kn], metrics: [bleu], max_new_tokens: many}
  - {id: q, type: quantum, dataset: {path: text.txt}, models: [kn], metrics: [bleu]}
  - {id: r, type: reference, dataset: {path: text.txt, unit: document}, models: [kn], metrics: [bleu], smooth: odd}
";
    std::fs::write(dir.path().join("tasks.yaml"), tasks).unwrap();
    let o = lmgauge(dir.path(), &["validate", "tasks.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    insta::assert_snapshot!("suite_task_type_diagnostics", redact(&stderr(&o), dir.path()));
}

#[test]
fn json_outputs_keep_their_shape() {
    let wmt = |f: &str| repo().join("data/wmt17-en-de").join(f).display().to_string();
    let dir = workspace(&[]);
    let (reference, kit) = (wmt("newstest2017.ref.de"), wmt("newstest2017.KIT.4950.hyp.de"));
    let arpa = fixture("kenlm/wiki-4.arpa.gz").display().to_string();
    let text = fixture("kenlm/wiki-query.txt").display().to_string();
    let runs: &[(&str, Vec<&str>)] = &[
        ("bleu", vec!["bleu", "-r", &reference, "-i", &kit, "--json"]),
        ("chrf", vec!["chrf", "-r", &reference, "-i", &kit, "--word-order", "2", "--json"]),
        ("rouge", vec!["rouge", "-r", &reference, "-i", &kit, "--types", "rouge1,rougeL", "--json"]),
        ("perplexity", vec!["perplexity", "--model", &arpa, "--input", &text, "--json"]),
        ("models", vec!["models", "--json"]),
    ];
    let mut all = String::new();
    for (name, args) in runs {
        let o = lmgauge(dir.path(), args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let value: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        all.push_str(&format!("$ lmgauge {name}\n{}\n", serde_json::to_string_pretty(&value).unwrap()));
    }
    insta::assert_snapshot!("json_outputs", redact(&all, dir.path()));
}

#[test]
fn each_report_section_is_stable() {
    let train = fixture("kenlm/wiki-train.txt").display().to_string();
    let test = fixture("kenlm/wiki-query.txt").display().to_string();
    let wmt = |f: &str| repo().join("data/wmt17-en-de").join(f).display().to_string();
    let pairs = [
        r#"{"prompt": "Q: name a colour. A:", "chosen": " blue, like the sky on a clear day", "rejected": " no", "reference": "blue"}"#,
        r#"{"prompt": "Q: say hello. A:", "chosen": " hello", "rejected": " I will not say that <b>word</b>", "reference": "hello"}"#,
        r#"{"prompt": "Q: count to three. A:", "chosen": " one two three", "rejected": " one two", "reference": "one two three"}"#,
    ]
    .join("\n");
    let prompts = [
        r#"{"prompt": "The game began", "reference": "the game began in the north"}"#,
        r#"{"prompt": "In the city", "reference": "in the city of the river"}"#,
    ]
    .join("\n");
    let s = format!(
        "version: 1
name: sections
description: Every task type on small data.
seed: 5
bootstrap: 50
models:
  - {{id: kn2, kind: ngram, train: {train}, order: 2, skip_symbols: true}}
  - {{id: kn3, kind: ngram, train: {train}, order: 3, skip_symbols: true}}
  - {{id: uedin, kind: outputs, path: {uedin}}}
  - {{id: kit, kind: outputs, path: {kit}}}
  - {{id: longer, kind: length}}
  - {{id: coin, kind: random}}
tasks:
  - id: ppl
    type: perplexity
    dataset: {{path: {test}, unit: line, limit: 30}}
    models: [kn2, kn3]
    metrics: [word_perplexity, bits_per_byte]
  - id: wmt
    type: reference
    dataset: {{path: {reference}, format: text, limit: 200}}
    models: [uedin, kit]
    metrics: [bleu, chrf]
  - id: prefs
    type: preference
    layout: explicit
    dataset: {{path: pairs.jsonl}}
    models: [longer, coin, kn2]
    metrics: [accuracy, tie_rate]
  - id: continue
    type: generation
    dataset: {{path: prompts.jsonl}}
    models: [kn2, kn3]
    metrics: [bleu, rougeL]
    max_new_tokens: 6
  - id: pairs
    type: minimal-pairs
    dataset: {{path: {blimp}, limit: 12}}
    models: [kn2, kn3]
    metrics: [accuracy, tie_rate]
  - id: choices
    type: multiple-choice
    dataset: {{path: {choices}, limit: 16}}
    group_fields: [UID]
    models: [kn2, kn3]
    metrics: [acc, acc_norm]
",
        blimp = repo().join("data/blimp/determiner_noun_agreement_1.jsonl.gz").display(),
        choices = repo().join("data/multiple-choice/blimp-one-prefix.jsonl").display(),
        uedin = wmt("newstest2017.uedin-nmt.4722.hyp.de"),
        kit = wmt("newstest2017.KIT.4950.hyp.de"),
        reference = wmt("newstest2017.ref.de"),
    );
    let dir = workspace(&[("suite.yaml", &s), ("pairs.jsonl", &pairs), ("prompts.jsonl", &prompts)]);
    let o = lmgauge(dir.path(), &["run-suite", "suite.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("out/sections/latest");
    let summary = std::fs::read_to_string(run.join("summary.md")).unwrap();
    insta::assert_snapshot!("summary_every_task_type", redact(&summary, dir.path()));
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    // Charts are plotters' SVG: checked by their own tests, not here.
    let html = regex::Regex::new(r"(?s)<svg.*?</svg>").unwrap().replace_all(&html, "<svg/>").into_owned();
    let body = &html[html.find("<body").expect("a body")..];
    let head_end = body.find("<section").expect("sections");
    insta::assert_snapshot!("html_header", redact(&body[..head_end], dir.path()));
    let sections = regex::Regex::new(r"(?s)<section[^>]*>.*?</section>").unwrap();
    let found: Vec<&str> = sections.find_iter(body).map(|m| m.as_str()).collect();
    assert!(found.len() >= 5, "{} sections", found.len());
    let heading = regex::Regex::new(r"<h2>([^<]*)</h2>").unwrap();
    for section in found {
        let title = heading.captures(section).map_or("untitled".into(), |c| {
            c[1].chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch.to_ascii_lowercase() } else { '_' })
                .collect::<String>()
        });
        insta::assert_snapshot!(format!("html_section_{title}"), redact(section, dir.path()));
    }
}
