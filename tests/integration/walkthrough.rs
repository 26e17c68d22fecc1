//! docs/walkthrough.md runs as written: the files it shows are written into a scratch folder
//! (with the repository's `tests/` beside them, for the fixture models), then every command of its
//! `sh` blocks runs there in order with the built binaries first on `PATH`. A line ending in
//! `# exits N` must exit with N; every other line must succeed. So the walkthrough cannot rot.

/// The files (`<!-- file: NAME -->` before a fenced block) and the commands (lines of `sh` blocks)
/// of the walkthrough, in order.
fn parse(doc: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (mut files, mut commands) = (Vec::new(), Vec::new());
    let mut lines = doc.lines().peekable();
    let mut pending_file: Option<String> = None;
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("<!-- file: ").and_then(|l| l.strip_suffix(" -->")) {
            pending_file = Some(name.to_owned());
        } else if let Some(lang) = line.strip_prefix("```") {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner == "```" {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            match (pending_file.take(), lang) {
                (Some(name), _) => files.push((name, body)),
                (None, "sh") => commands.extend(body.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned)),
                _ => {}
            }
        }
    }
    (files, commands)
}

#[cfg(feature = "torch")]
#[test]
fn the_walkthrough_runs_as_written() {
    use crate::common::repo;
    use std::path::Path;
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).unwrap();
    let (files, commands) = parse(&doc);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(commands.len() >= 15, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in &files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    std::os::unix::fs::symlink(repo().join("tests"), dir.path().join("tests")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_lmgauge")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for command in &commands {
        let expected = command.rsplit_once("# exits ").map_or(0, |(_, code)| code.trim().parse().unwrap());
        let o = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(expected),
            "`{command}`:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // What the walkthrough says the run leaves.
    let run = dir.path().join("reports/my-model/latest");
    for f in ["index.html", "summary.md", "results.csv", "items.parquet", "results.json", "gate.md", "gate.junit.xml"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let results = crate::common::valid_results_json(&run);
    assert_eq!(results["gate"]["passed"], true);
    assert!(results["results"]["my-pairs"]["mine"]["accuracy"]["n"] == 4);
}

#[test]
fn the_parser_finds_files_and_commands() {
    let doc = "x\n<!-- file: a.txt -->\n```text\nhello\n```\n```sh\nlmgauge env\n\nlmgauge bad   # exits 2\n```\n```yaml\nnot: a command\n```\n";
    let (files, commands) = parse(doc);
    assert_eq!(files, vec![("a.txt".to_owned(), "hello\n".to_owned())]);
    assert_eq!(commands, vec!["lmgauge env".to_owned(), "lmgauge bad   # exits 2".to_owned()]);
}
