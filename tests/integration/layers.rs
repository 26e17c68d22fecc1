//! The crate's layers, checked by reading `src/`: a module may import only the layers below its
//! own, and no two files of one module may import each other, directly or around a circle.
//!
//! The layer list is written here once; `src/lib.rs` and docs/internals.md show the same picture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom: `main → cli → report, gate → engine → tasks → store → suite, metrics, models,
/// data`. Modules in one group are peers and may not import each other. The bottom group of the
/// architecture (suite, metrics, models, data) is ordered here as the imports among its members run
/// (the suite file names metrics and models, perplexity metrics read models' token scores), so that
/// no two of them import each other either. `error`, the error the commands return, gathers the
/// errors of the layers below it.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["report", "gate"],
    &["engine"],
    &["tasks"],
    &["store"],
    &["error"],
    &["suite"],
    &["metrics"],
    &["models"],
    &["data"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|group| group.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and string literals, so that prose and messages that
/// mention `crate::x` are not taken for imports.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.split("//").next().unwrap_or("");
            let mut out = String::new();
            let mut in_str = false;
            let mut prev = ' ';
            for c in l.chars() {
                if c == '"' && prev != '\\' {
                    in_str = !in_str;
                } else if !in_str {
                    out.push(c);
                }
                prev = c;
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names from the crate root: `crate::a::b` and the members of `crate::{…}`
/// groups, as their segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let segs: Vec<String> = part
                    .split("::")
                    .map(|s| s.trim().trim_start_matches('{').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else {
            let segs: Vec<String> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if !segs.is_empty() {
                out.push(segs);
            }
        }
    }
    out
}

struct SourceFile {
    /// Module path from the crate root: `src/report/html.rs` → ["report", "html"].
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        // The binaries (main.rs, bin/) sit above every layer: they start `cli` (lmgauge-torch
        // first links neural loading to libtorch).
        .filter(|p| !p.ends_with("main.rs") && !p.ends_with("lib.rs") && !p.starts_with(src.join("bin")))
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            SourceFile { module, code: code_of(&std::fs::read_to_string(&p).unwrap()) }
        })
        .collect()
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let mut wrong = Vec::new();
    for f in sources() {
        let own = &f.module[0];
        let Some(own_rank) = rank(own) else {
            wrong.push(format!("src/{}: module {own} is in no layer; add it to LAYERS", f.module.join("/")));
            continue;
        };
        let imported: BTreeSet<String> = crate_paths(&f.code).into_iter().map(|p| p[0].clone()).collect();
        for m in imported {
            if &m == own {
                continue;
            }
            match rank(&m) {
                Some(r) if r > own_rank => {}
                Some(_) => wrong.push(format!("src/{} ({own}) imports {m}, which is not below it", f.module.join("/"))),
                None => wrong.push(format!("src/{} imports crate::{m}, which is in no layer", f.module.join("/"))),
            }
        }
    }
    assert!(wrong.is_empty(), "layer violations:\n  {}", wrong.join("\n  "));
}

/// Within a module, files import each other one way only: an edge runs from a file to each sibling
/// file (or its submodules) it names through `super::` or a `crate::` path.
#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let files = sources();
    let names: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in &files {
        let mut targets: Vec<Vec<String>> = crate_paths(&f.code);
        // `super::x` from a file names the sibling `x` of its module.
        let parent: Vec<String> = f.module[..f.module.len() - 1].to_vec();
        let mut rest = f.code.as_str();
        while let Some(i) = rest.find("super::") {
            rest = &rest[i + "super::".len()..];
            let seg: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !seg.is_empty() && seg != "super" {
                let mut t = parent.clone();
                t.push(seg);
                targets.push(t);
            }
        }
        for t in targets {
            // The longest known file the path starts with; a module's own mod.rs is its interface
            // and not part of any circle among its files.
            let Some(target) = (1..=t.len()).rev().map(|k| t[..k].to_vec()).find(|p| names.contains(p)) else {
                continue;
            };
            let siblings =
                target.len() == f.module.len() && target[..target.len() - 1] == f.module[..f.module.len() - 1];
            if target != f.module && siblings {
                edges.entry(f.module.clone()).or_default().insert(target);
            }
        }
    }
    let mut circles = Vec::new();
    for (a, outs) in &edges {
        for b in outs {
            if reaches(&edges, b, a, &mut BTreeSet::new()) && a < b {
                circles.push(format!("src/{}.rs ↔ src/{}.rs", a.join("/"), b.join("/")));
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n  {}", circles.join("\n  "));
}

fn reaches(
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    from: &Vec<String>,
    to: &Vec<String>,
    seen: &mut BTreeSet<Vec<String>>,
) -> bool {
    if from == to {
        return true;
    }
    if !seen.insert(from.clone()) {
        return false;
    }
    edges.get(from).is_some_and(|outs| outs.iter().any(|n| reaches(edges, n, to, seen)))
}

#[test]
fn the_checker_sees_imports_in_every_form() {
    let code = code_of(
        "use crate::{engine::run, store};\nlet x = crate::report::render(); // crate::cli\nlet s = \"crate::gate\";",
    );
    let firsts: Vec<String> = crate_paths(&code).into_iter().map(|p| p[0].clone()).collect();
    assert_eq!(firsts, ["engine", "store", "report"]);
}
