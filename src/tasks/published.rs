//! Published results a task shows beside the models that ran, labelled as not run here: BLiMP's
//! per-phenomenon and per-term accuracies of the paper's models (`paper-results.jsonl`) and its
//! human agreement (`human-validation.csv`). Read when the suite is validated, so a malformed file
//! is a suite error naming the file and the line.

use std::path::Path;

/// One published number: who (`gpt2`, `human`), for which group value (`UID` = `adjunct_island`,
/// or `linguistics_term` = `island_effects`), and the accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub source: String,
    pub field: String,
    pub group: String,
    pub accuracy: f64,
}

/// Reads a `.jsonl` file of BLiMP's `paper-results` form or a `.csv` file of its
/// `human-validation` form.
pub fn read(path: &Path) -> Result<Vec<Published>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows = if path.extension().is_some_and(|e| e == "csv") { human(path, &text)? } else { paper(path, &text)? };
    if rows.is_empty() {
        return Err(format!("{}: no published results", path.display()));
    }
    Ok(rows)
}

/// `{"UID": …, "linguistics_term": …, "<model>": accuracy, …}` per line; `UID: overall` rows give
/// a term's figure (and `linguistics_term: overall` the paper's overall, which is left out: it
/// averages phenomena a run may not have).
fn paper(path: &Path, text: &str) -> Result<Vec<Published>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = format!("{}:{}", path.display(), i + 1);
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| format!("{at}: not a JSON object: {e}"))?;
        let text_field = |k: &str| {
            v.get(k).and_then(|x| x.as_str()).ok_or_else(|| format!("{at}: field {k:?} is missing or not text"))
        };
        let (uid, term) = (text_field("UID")?, text_field("linguistics_term")?);
        let (field, group) = match (uid, term) {
            ("overall", "overall") => continue,
            ("overall", term) => ("linguistics_term", term),
            (uid, _) => ("UID", uid),
        };
        for (source, value) in v.iter().filter(|(k, _)| !["UID", "linguistics_term", "field"].contains(&k.as_str())) {
            let accuracy = value
                .as_f64()
                .filter(|a| (0.0..=1.0).contains(a))
                .ok_or_else(|| format!("{at}: field {source:?} must be an accuracy between 0 and 1"))?;
            out.push(Published { source: source.clone(), field: field.into(), group: group.into(), accuracy });
        }
    }
    Ok(out)
}

/// `Condition,accepted,total_mean,count`: the share of people who agreed with the pair's label,
/// per phenomenon.
fn human(path: &Path, text: &str) -> Result<Vec<Published>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| format!("{}: no {name:?} column", path.display()))
    };
    let (condition, mean) = (column("Condition")?, column("total_mean")?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let at = format!("{}:{}", path.display(), i + 2);
        let record = record.map_err(|e| format!("{at}: {e}"))?;
        let accuracy = record
            .get(mean)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|a| (0.0..=1.0).contains(a))
            .ok_or_else(|| format!("{at}: field \"total_mean\" must be an accuracy between 0 and 1"))?;
        let group = record.get(condition).unwrap_or_default().to_owned();
        out.push(Published { source: "human".into(), field: "UID".into(), group, accuracy });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blimp_files_are_read_and_a_bad_value_is_named() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/blimp/published");
        let paper = read(&root.join("paper-results.jsonl")).unwrap();
        let gpt2 = |field: &str, group: &str| {
            paper.iter().find(|p| p.source == "gpt2" && p.field == field && p.group == group).map(|p| p.accuracy)
        };
        assert_eq!(gpt2("UID", "anaphor_gender_agreement"), Some(0.994));
        assert_eq!(gpt2("linguistics_term", "ellipsis"), Some(0.8935));
        assert!(!paper.iter().any(|p| p.group == "overall"));
        let human = read(&root.join("human-validation.csv")).unwrap();
        assert_eq!(
            human[0],
            Published { source: "human".into(), field: "UID".into(), group: "adjunct_island".into(), accuracy: 0.94 }
        );
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("p.jsonl");
        std::fs::write(&bad, "{\"UID\": \"a\", \"linguistics_term\": \"t\", \"gpt2\": 1.5}\n").unwrap();
        assert!(read(&bad).unwrap_err().contains("p.jsonl:1: field \"gpt2\" must be an accuracy"));
    }
}
