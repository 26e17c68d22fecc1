//! Preference pairs: a prompt, the response people chose and the one they rejected.
//!
//! HH-RLHF lines hold two transcripts that share the dialogue up to the last `\n\nAssistant:`;
//! that shared part is the prompt and what follows in each is its response. Pairs that cannot be
//! used — transcripts without an assistant turn, transcripts that do not share the dialogue, an
//! empty response, identical responses, an exact duplicate of an earlier pair — are skipped and
//! reported with their line, never silently.

use std::path::Path;

use rustc_hash::FxHashSet;

use super::DataError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairLayout {
    /// `{"chosen": transcript, "rejected": transcript}`.
    Hh,
    /// `{"prompt": …, "chosen": …, "rejected": …}` (and an optional `subset`).
    Explicit,
    /// summarize-from-feedback comparisons: `{"info": {"post"|"article", "subreddit"?},
    /// "summaries": [{"text"}, {"text"}], "choice": 0|1}`.
    Comparisons,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// 1-based line in the file.
    pub line: usize,
    pub prompt: String,
    pub chosen: String,
    pub rejected: String,
    /// A category for per-subset accuracy (`subset` field, or a comparison's subreddit).
    pub subset: Option<String>,
    /// A reference response, for reference-metric judges (`reference` field, explicit layout).
    pub reference: Option<String>,
}

const ASSISTANT: &str = "\n\nAssistant:";

/// Splits an HH transcript into (prompt up to and including the last `\n\nAssistant:`, response).
pub fn split_hh(transcript: &str) -> Option<(&str, &str)> {
    let i = transcript.rfind(ASSISTANT)?;
    Some(transcript.split_at(i + ASSISTANT.len()))
}

const HUMAN: &str = "\n\nHuman:";

/// An HH prompt (the dialogue up to and including the last `\n\nAssistant:`) as turns: the
/// earlier (human, assistant) exchanges and the last human turn, each trimmed. An error says
/// where the dialogue does not alternate Human and Assistant turns, starting with Human.
pub fn hh_dialogue(prompt: &str) -> Result<(Vec<(String, String)>, String), String> {
    let mut turns: Vec<(bool, &str)> = Vec::new();
    let mut rest = prompt;
    if !rest.starts_with(HUMAN) {
        return Err("the dialogue does not start with \"\\n\\nHuman:\"".into());
    }
    while !rest.is_empty() {
        let human = rest.starts_with(HUMAN);
        let marker = if human { HUMAN } else { ASSISTANT };
        if !rest.starts_with(marker) {
            return Err("the dialogue holds text outside any turn".into());
        }
        rest = &rest[marker.len()..];
        let end = [rest.find(HUMAN), rest.find(ASSISTANT)].into_iter().flatten().min().unwrap_or(rest.len());
        turns.push((human, rest[..end].trim()));
        rest = &rest[end..];
    }
    // The prompt ends with the opening of the assistant's answer: an empty assistant turn.
    if turns.last() != Some(&(false, "")) {
        return Err("the dialogue does not end with \"\\n\\nAssistant:\"".into());
    }
    let mut roles = turns.iter().map(|&(human, _)| human).enumerate();
    if let Some((k, human)) = roles.find(|&(k, human)| human != (k % 2 == 0)) {
        let what = if human { "a Human turn where an Assistant turn" } else { "an Assistant turn where a Human turn" };
        return Err(format!("turn {} is {what} should follow", k + 1));
    }
    turns.pop();
    let question = turns.pop().map(|(_, t)| t.to_owned()).unwrap_or_default();
    let exchanges = turns.chunks(2).map(|two| (two[0].1.to_owned(), two[1].1.to_owned())).collect();
    Ok((exchanges, question))
}

/// Reads the usable pairs of a JSONL file and a note for each skipped line.
pub fn load_pairs(
    path: &Path,
    layout: PairLayout,
    limit: Option<usize>,
) -> Result<(Vec<Pair>, Vec<String>), DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    let mut pairs = Vec::new();
    let mut notes = Vec::new();
    let mut seen: FxHashSet<(String, String, String)> = FxHashSet::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if limit.is_some_and(|l| pairs.len() >= l) {
            break;
        }
        let line = i + 1;
        let err = |message: String| DataError::Line { path: path.to_owned(), line, message };
        let text = std::str::from_utf8(raw).map_err(|_| DataError::Utf8 { path: path.to_owned(), line })?;
        if text.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let field = |name: &str| -> Result<&str, DataError> {
            v.get(name).and_then(|x| x.as_str()).ok_or_else(|| err(format!("field {name:?} must be a string")))
        };
        // An optional text field: absent or null is none; any other non-string is refused rather
        // than dropped (a numeric subset would otherwise vanish from the per-subset table).
        let optional = |parent: &serde_json::Value, name: &str| -> Result<Option<String>, DataError> {
            match parent.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(err(format!("field {name:?} must be a string when present"))),
            }
        };
        let mut subset = None;
        let mut reference = None;
        let (prompt, chosen, rejected) = match layout {
            PairLayout::Explicit => {
                subset = optional(&v, "subset")?;
                reference = optional(&v, "reference")?;
                (field("prompt")?.to_owned(), field("chosen")?.to_owned(), field("rejected")?.to_owned())
            }
            PairLayout::Comparisons => {
                let info = v.get("info").ok_or_else(|| err("missing field \"info\"".into()))?;
                let prompt = info
                    .get("post")
                    .or_else(|| info.get("article"))
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| err("info needs a \"post\" or \"article\" string".into()))?;
                subset = match optional(info, "subreddit")? {
                    Some(s) => Some(s),
                    None => optional(info, "site")?,
                };
                let texts: Vec<&str> = v
                    .get("summaries")
                    .and_then(|s| s.as_array())
                    .map(|a| a.iter().filter_map(|x| x.get("text").and_then(|t| t.as_str())).collect())
                    .unwrap_or_default();
                let choice = v.get("choice").and_then(|c| c.as_u64());
                match (texts.as_slice(), choice) {
                    ([a, b], Some(c @ (0 | 1))) => {
                        let (chosen, rejected) = if c == 0 { (a, b) } else { (b, a) };
                        (prompt.to_owned(), chosen.to_string(), rejected.to_string())
                    }
                    _ => {
                        return Err(err("a comparison needs two summaries with \"text\" and \"choice\" 0 or 1".into()));
                    }
                }
            }
            PairLayout::Hh => {
                let (c, r) = (field("chosen")?, field("rejected")?);
                let (Some((pc, rc)), Some((pr, rr))) = (split_hh(c), split_hh(r)) else {
                    notes.push(format!(
                        "{}:{line}: skipped: a transcript has no \"\\n\\nAssistant:\" turn",
                        path.display()
                    ));
                    continue;
                };
                if pc != pr {
                    notes.push(format!("{}:{line}: skipped: chosen and rejected do not share the dialogue before the last assistant turn", path.display()));
                    continue;
                }
                (pc.to_owned(), rc.to_owned(), rr.to_owned())
            }
        };
        if chosen.trim().is_empty() || rejected.trim().is_empty() {
            notes.push(format!("{}:{line}: skipped: empty response", path.display()));
            continue;
        }
        if chosen == rejected {
            notes.push(format!("{}:{line}: skipped: chosen and rejected responses are identical", path.display()));
            continue;
        }
        if !seen.insert((prompt.clone(), chosen.clone(), rejected.clone())) {
            notes.push(format!("{}:{line}: skipped: duplicate of an earlier pair", path.display()));
            continue;
        }
        pairs.push(Pair { line, prompt, chosen, rejected, subset, reference });
    }
    if pairs.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    Ok((pairs, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_dialogues_become_turns_or_say_where_they_break() {
        let (ex, q) = hh_dialogue("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: and?\n\nAssistant:").unwrap();
        assert_eq!((ex, q.as_str()), (vec![("hi".to_owned(), "hello".to_owned())], "and?"));
        let e = hh_dialogue("\n\nHuman: a\n\nHuman: b\n\nAssistant:").unwrap_err();
        assert_eq!(e, "turn 2 is a Human turn where an Assistant turn should follow");
        assert!(hh_dialogue("Hi\n\nHuman: a\n\nAssistant:").unwrap_err().contains("does not start"));
        assert!(hh_dialogue("\n\nHuman: a\n\nAssistant: b").unwrap_err().contains("does not end"));
        let e = hh_dialogue("\n\nHuman: a\n\nAssistant: b\n\nAssistant:").unwrap_err();
        assert_eq!(e, "turn 3 is an Assistant turn where a Human turn should follow");
    }

    #[test]
    fn hh_prompt_is_the_shared_dialogue() {
        let (p, r) = split_hh("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: and?\n\nAssistant: more").unwrap();
        assert_eq!(p, "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: and?\n\nAssistant:");
        assert_eq!(r, " more");
        assert!(split_hh("no turns").is_none());
    }

    #[test]
    fn bad_pairs_are_reported_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.jsonl");
        let a = |c: &str, r: &str| serde_json::json!({"chosen": c, "rejected": r}).to_string();
        let lines = [
            a("\n\nHuman: q\n\nAssistant: yes", "\n\nHuman: q\n\nAssistant: no"),
            a("\n\nHuman: q\n\nAssistant: yes", "\n\nHuman: other\n\nAssistant: no"),
            a("\n\nHuman: q\n\nAssistant: ", "\n\nHuman: q\n\nAssistant: no"),
            a("\n\nHuman: q\n\nAssistant: same", "\n\nHuman: q\n\nAssistant: same"),
            a("\n\nHuman: q\n\nAssistant: yes", "\n\nHuman: q\n\nAssistant: no"),
            a("just text", "more text"),
        ];
        std::fs::write(&p, lines.join("\n")).unwrap();
        let (pairs, notes) = load_pairs(&p, PairLayout::Hh, None).unwrap();
        assert_eq!(pairs.len(), 1);
        let joined = notes.join("\n");
        for (line, what) in [
            (2, "do not share"),
            (3, "empty response"),
            (4, "identical"),
            (5, "duplicate"),
            (6, "no \"\\n\\nAssistant:\""),
        ] {
            assert!(joined.contains(&format!("p.jsonl:{line}: skipped")) && joined.contains(what), "{joined}");
        }
    }

    #[test]
    fn an_optional_field_of_the_wrong_type_is_refused_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let row = |extra: &str| format!(r#"{{"prompt": "q", "chosen": "a", "rejected": "b"{extra}}}"#);
        std::fs::write(&p, format!("{}\n{}\n", row(r#", "subset": "s""#), row(r#", "subset": null"#))).unwrap();
        let (pairs, _) = load_pairs(&p, PairLayout::Explicit, None).unwrap();
        assert_eq!(pairs[0].subset.as_deref(), Some("s"));
        std::fs::write(&p, format!("{}\n{}\n", row(""), row(r#", "subset": 3"#))).unwrap();
        let e = load_pairs(&p, PairLayout::Explicit, None).unwrap_err().to_string();
        assert!(e.contains("e.jsonl:2") && e.contains("\"subset\" must be a string"), "{e}");
        std::fs::write(&p, row(r#", "reference": ["r"]"#)).unwrap();
        let e = load_pairs(&p, PairLayout::Explicit, None).unwrap_err().to_string();
        assert!(e.contains("\"reference\" must be a string"), "{e}");
    }
}
