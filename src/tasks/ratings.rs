//! Rated system outputs, as human-agreement tasks read them: items (a segment or a document) with
//! their references and source, each system's output for an item with people's scores on one or
//! more dimensions, and, for WMT's relative rankings, better/worse pairs of outputs.
//!
//! Four layouts, recognised from the files: a folder of `docs.jsonl[.gz]` + `summaries.jsonl[.gz]`
//! (SummEval as packaged here), a daRR pairs file (`better`/`worse`), an MQM segments file
//! (`hyps`/`refs`/`mqm` maps), and a long table (JSONL, CSV, Parquet) of one rated output per
//! row. An output without a rating on a dimension is unrated there (NaN inside, never zero),
//! and the task counts it; a rating that is not a number is an error naming file, line and field.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::jsonl::{self, Record, kind};

/// Which layout a dataset is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// A folder of `docs` (`doc_id`, `reference`/`references`, optional `source`) and `summaries`
    /// (`doc_id`, `system`, `summary`, one numeric field per human dimension).
    Documents,
    /// WMT relative rankings: `src`, `ref`, `better_sys`, `better`, `worse_sys`, `worse`.
    Darr,
    /// One segment per line: `source`, `refs` {name: text}, `hyps` {system: text}, `mqm` {system: score}.
    Mqm,
    /// One rated output per row, fields named by `columns`.
    Long,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Documents => "documents",
            Layout::Darr => "darr",
            Layout::Mqm => "mqm",
            Layout::Long => "long",
        }
    }
}

/// The field names of the long layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    #[serde(default = "default_item")]
    pub item: String,
    #[serde(default = "default_system")]
    pub system: String,
    #[serde(default = "default_hypothesis")]
    pub hypothesis: String,
    /// A string, or a list of strings (several references).
    #[serde(default = "default_reference")]
    pub reference: String,
    #[serde(default)]
    pub source: Option<String>,
    /// The human scores; default: every numeric field of the first row other than the above.
    #[serde(default)]
    pub scores: Option<Vec<String>>,
}

fn default_item() -> String {
    "item".into()
}
fn default_system() -> String {
    "system".into()
}
fn default_hypothesis() -> String {
    "hypothesis".into()
}
fn default_reference() -> String {
    "reference".into()
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            item: default_item(),
            system: default_system(),
            hypothesis: default_hypothesis(),
            reference: default_reference(),
            source: None,
            scores: None,
        }
    }
}

/// One item: what every system's output for it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    pub source: Option<String>,
    pub references: Vec<String>,
    /// The references' names where the data names them (MQM's `refs`), else `ref-1`, `ref-2`, ….
    pub reference_names: Vec<String>,
    /// People's scores of each reference where the data has them (MQM rates `ref-A`), else NaN.
    pub reference_human: Vec<Vec<f64>>,
}

/// One system's output for one item, with people's scores (NaN: not rated on that dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub segment: usize,
    pub system: String,
    pub text: String,
    pub human: Vec<f64>,
    /// A human reference scored as a system: the index of the item's reference it is (judged
    /// against the other references).
    pub reference: Option<usize>,
}

impl Output {
    /// The output's id in job records: unique within a dataset.
    pub fn key(&self, segments: &[Segment]) -> String {
        format!("{}/{}", segments[self.segment].id, self.system)
    }
}

/// A dataset of rated outputs.
#[derive(Debug, Clone, Default)]
pub struct Ratings {
    pub segments: Vec<Segment>,
    pub outputs: Vec<Output>,
    /// Human dimensions, in the order of `Output::human`; `da` pairs have none.
    pub dimensions: Vec<String>,
    /// daRR: (better output, worse output) by index into `outputs`.
    pub pairs: Vec<(usize, usize)>,
    /// Rows skipped while reading, counted by reason, for the report and the log.
    pub notes: Vec<String>,
}

/// The layout of `path`: a folder is the documents layout; a CSV or Parquet file is long; a
/// JSON Lines file is recognised by the fields of its first record.
pub fn detect(path: &Path) -> Result<Layout, String> {
    if path.is_dir() {
        return Ok(Layout::Documents);
    }
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".csv") || name.ends_with(".parquet") {
        return Ok(Layout::Long);
    }
    let first = jsonl::read(path, Some(1), Some(1), |r| Ok(r.value))?;
    let has = |k: &str| first[0].get(k).is_some();
    Ok(if has("better") && has("worse") {
        Layout::Darr
    } else if has("hyps") && has("mqm") {
        Layout::Mqm
    } else {
        Layout::Long
    })
}

/// Reads a dataset in `layout`; `limit` keeps the first items (documents, segments, pairs).
pub fn load(path: &Path, layout: Layout, columns: &Columns, limit: Option<usize>) -> Result<Ratings, String> {
    let mut r = match layout {
        Layout::Documents => documents(path, limit)?,
        Layout::Darr => darr(path, limit)?,
        Layout::Mqm => mqm(path, limit)?,
        Layout::Long => long(path, columns, limit)?,
    };
    if r.outputs.is_empty() {
        return Err(format!("{}: no rated outputs", path.display()));
    }
    let unrated: Vec<String> = r
        .dimensions
        .iter()
        .enumerate()
        .filter_map(|(d, name)| {
            let n = r.outputs.iter().filter(|o| o.human[d].is_nan()).count();
            (n > 0).then(|| format!("{n} outputs have no {name} rating and are left out of {name}'s statistics"))
        })
        .collect();
    r.notes.extend(unrated);
    Ok(r)
}

/// A file of the documents folder by stem, plain or gzipped.
fn member(dir: &Path, stem: &str) -> Result<PathBuf, String> {
    for name in [format!("{stem}.jsonl.gz"), format!("{stem}.jsonl")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(format!("{}: a documents folder needs {stem}.jsonl or {stem}.jsonl.gz", dir.display()))
}

/// `reference` (a string) or `references` (a list of strings) of a record.
fn references(r: &Record) -> Result<Vec<String>, String> {
    if let Some(v) = r.value.get("references") {
        let list =
            v.as_array().ok_or_else(|| format!("{}: field \"references\" must be a list, found {}", r.at, kind(v)))?;
        let refs: Vec<String> = list
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{}: field \"references\" must hold strings only", r.at))?;
        if refs.is_empty() {
            return Err(format!("{}: field \"references\" is empty", r.at));
        }
        return Ok(refs);
    }
    Ok(vec![r.text("reference", false)?])
}

/// A human score: a JSON number (or, from CSV and Parquet, text that reads as a finite number),
/// or null/missing: unrated. Anything else — NaN, infinity, a word — is an error.
fn score_of(r: &Record, name: &str, textual: bool) -> Result<f64, String> {
    match r.value.get(name) {
        None | Some(serde_json::Value::Null) => Ok(f64::NAN),
        Some(serde_json::Value::Number(n)) => {
            n.as_f64().ok_or_else(|| format!("{}: rating {name:?} is out of range", r.at))
        }
        Some(serde_json::Value::String(s)) if textual => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("{}: rating {name:?} must be a finite number or empty, found {s:?}", r.at)),
        },
        Some(v) => Err(format!("{}: rating {name:?} must be a number or null, found {}", r.at, kind(v))),
    }
}

/// Whether a value of the first row makes its field a human score (long layout).
fn looks_numeric(v: &serde_json::Value, textual: bool) -> bool {
    match v {
        serde_json::Value::Number(_) => true,
        serde_json::Value::String(s) if textual => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

fn documents(dir: &Path, limit: Option<usize>) -> Result<Ratings, String> {
    let docs_path = member(dir, "docs")?;
    let mut segments = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    jsonl::read(&docs_path, None, limit, |r| {
        let id = r.label("doc_id")?;
        if index.insert(id.clone(), segments.len()).is_some() {
            return Err(format!("{}: document {id:?} appears twice", r.at));
        }
        let source = match r.value.get("source") {
            None => None,
            Some(_) => Some(r.text("source", true)?),
        };
        segments.push(Segment {
            id,
            source,
            references: references(&r)?,
            reference_names: Vec::new(),
            reference_human: Vec::new(),
        });
        Ok(())
    })?;
    let summaries = member(dir, "summaries")?;
    let ids = ["doc_id", "system", "summary"];
    let mut dimensions: Vec<String> = Vec::new();
    let mut outputs = Vec::new();
    let mut seen: HashMap<(usize, String), String> = HashMap::new();
    let mut other_docs = 0usize;
    jsonl::read(&summaries, None, None, |r| {
        let obj = r.value.as_object().expect("records are objects");
        if dimensions.is_empty() {
            dimensions = obj
                .iter()
                .filter(|(k, v)| !ids.contains(&k.as_str()) && (v.is_number() || v.is_null()))
                .map(|(k, _)| k.clone())
                .collect();
            if dimensions.is_empty() {
                return Err(format!("{}: no numeric field to read as a human rating", r.at));
            }
        }
        let doc = r.label("doc_id")?;
        let Some(&segment) = index.get(&doc) else {
            // Documents past `limit`, or a summary of a document the docs file lacks.
            other_docs += 1;
            return Ok(());
        };
        let system = r.label("system")?;
        if let Some(first) = seen.insert((segment, system.clone()), r.at.clone()) {
            return Err(format!("{}: system {system:?} already has a summary of document {doc:?} at {first}", r.at));
        }
        let human = dimensions.iter().map(|d| score_of(&r, d, false)).collect::<Result<_, _>>()?;
        outputs.push(Output { segment, system, text: r.text("summary", true)?, human, reference: None });
        Ok(())
    })?;
    let mut notes = Vec::new();
    if other_docs > 0 && limit.is_none() {
        notes.push(format!("{other_docs} summaries name a document that {} lacks: skipped", docs_path.display()));
    }
    Ok(Ratings { segments, outputs, dimensions, pairs: Vec::new(), notes })
}

/// Interns segments by (source, reference) and outputs by (segment, system, text).
#[derive(Default)]
struct Interner {
    ratings: Ratings,
    segments: HashMap<(String, String), usize>,
    outputs: HashMap<(usize, String, String), usize>,
}

impl Interner {
    fn segment(&mut self, source: String, reference: String) -> usize {
        let next = self.ratings.segments.len();
        *self.segments.entry((source.clone(), reference.clone())).or_insert_with(|| {
            self.ratings.segments.push(Segment {
                id: (next + 1).to_string(),
                source: Some(source),
                references: vec![reference],
                reference_names: Vec::new(),
                reference_human: Vec::new(),
            });
            next
        })
    }

    fn output(&mut self, segment: usize, system: String, text: String) -> usize {
        let next = self.ratings.outputs.len();
        *self.outputs.entry((segment, system.clone(), text.clone())).or_insert_with(|| {
            self.ratings.outputs.push(Output { segment, system, text, human: Vec::new(), reference: None });
            next
        })
    }
}

fn darr(path: &Path, limit: Option<usize>) -> Result<Ratings, String> {
    let mut interner = Interner::default();
    let mut identical = 0usize;
    jsonl::read(path, None, limit, |r| {
        let segment = interner.segment(r.text("src", false)?, r.text("ref", false)?);
        let (better, worse) = (r.text("better", true)?, r.text("worse", true)?);
        if better == worse {
            // No judge can order two identical texts: the pair says nothing about it.
            identical += 1;
            return Ok(());
        }
        let b = interner.output(segment, r.label("better_sys")?, better);
        let w = interner.output(segment, r.label("worse_sys")?, worse);
        interner.ratings.pairs.push((b, w));
        Ok(())
    })?;
    let mut r = interner.ratings;
    if identical > 0 {
        r.notes.push(format!("{identical} pairs whose better and worse translations are the same text: skipped"));
    }
    if r.pairs.is_empty() {
        return Err(format!("{}: no pair with two different translations", path.display()));
    }
    Ok(r)
}

fn string_map(r: &Record, name: &str) -> Result<BTreeMap<String, serde_json::Value>, String> {
    match r.value.get(name) {
        Some(serde_json::Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        None => Err(format!("{}: field {name:?} is missing", r.at)),
        Some(v) => Err(format!("{}: field {name:?} must be an object, found {}", r.at, kind(v))),
    }
}

fn mqm(path: &Path, limit: Option<usize>) -> Result<Ratings, String> {
    let mut ratings = Ratings { dimensions: vec!["mqm".into()], ..Ratings::default() };
    let mut rated_refs = BTreeMap::<String, usize>::new();
    jsonl::read(path, None, limit, |r| {
        let id = r.label("seg_id")?;
        let refs = string_map(&r, "refs")?;
        let references: Vec<String> = refs
            .iter()
            .map(|(k, v)| v.as_str().map(str::to_owned).ok_or_else(|| format!("{}: refs.{k} must be a string", r.at)))
            .collect::<Result<_, _>>()?;
        if references.is_empty() {
            return Err(format!("{}: field \"refs\" is empty", r.at));
        }
        let segment = ratings.segments.len();
        let scores = string_map(&r, "mqm")?;
        let reference_names: Vec<String> = refs.keys().cloned().collect();
        let reference_human = reference_names
            .iter()
            .map(|name| vec![scores.get(name).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN)])
            .collect();
        ratings.segments.push(Segment {
            id,
            source: Some(r.text("source", true)?),
            references,
            reference_names,
            reference_human,
        });
        for (system, text) in string_map(&r, "hyps")? {
            let text = text.as_str().ok_or_else(|| format!("{}: hyps.{system} must be a string", r.at))?.to_owned();
            let score = match scores.get(&system) {
                // Unrated: counted per dimension by `load`.
                None | Some(serde_json::Value::Null) => f64::NAN,
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| format!("{}: mqm.{system} must be a number or null, found {}", r.at, kind(v)))?,
            };
            ratings.outputs.push(Output { segment, system, text, human: vec![score], reference: None });
        }
        for name in scores.keys().filter(|k| refs.contains_key(*k)) {
            *rated_refs.entry(name.clone()).or_default() += 1;
        }
        Ok(())
    })?;
    for (name, n) in rated_refs {
        ratings.notes.push(format!(
            "{n} ratings of the human reference {name:?} are not scored: it is the reference the systems are compared with"
        ));
    }
    Ok(ratings)
}

/// The long layout: one rated output per row of JSONL, CSV or Parquet.
fn long(path: &Path, columns: &Columns, limit: Option<usize>) -> Result<Ratings, String> {
    let super::ratings_table::Rows { rows, textual } = super::ratings_table::rows(path)?;
    let mut ratings = Ratings::default();
    let fixed: Vec<&str> = [&columns.item, &columns.system, &columns.hypothesis, &columns.reference]
        .into_iter()
        .map(String::as_str)
        .chain(columns.source.as_deref())
        .collect();
    ratings.dimensions = match &columns.scores {
        Some(s) if !s.is_empty() => s.clone(),
        Some(_) => return Err("columns.scores: name at least one human score".into()),
        None => {
            let first = rows.first().ok_or_else(|| format!("{}: no rows", path.display()))?;
            let dims: Vec<String> = first
                .value
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, v)| !fixed.contains(&k.as_str()) && looks_numeric(v, textual))
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            if dims.is_empty() {
                return Err(format!(
                    "{}: the first row has no numeric field besides {}; name the human scores in columns.scores",
                    first.at,
                    fixed.join(", ")
                ));
            }
            dims
        }
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut seen: HashMap<(usize, String), String> = HashMap::new();
    for r in rows {
        let item = r.label(&columns.item)?;
        let references = match r.value.get(&columns.reference) {
            Some(serde_json::Value::Array(_)) => {
                let mut renamed = r.value.clone();
                let list = renamed.as_object_mut().expect("object").remove(&columns.reference).expect("present");
                renamed.as_object_mut().expect("object").insert("references".into(), list);
                references(&Record { value: renamed, id: r.id.clone(), at: r.at.clone() })?
            }
            _ => vec![r.text(&columns.reference, false)?],
        };
        let source = columns.source.as_deref().map(|f| r.text(f, true)).transpose()?;
        let segment = match index.get(&item) {
            Some(&s) => {
                let known = &ratings.segments[s];
                if known.references != references || known.source != source {
                    return Err(format!(
                        "{}: item {item:?} has a different reference or source than its first row",
                        r.at
                    ));
                }
                s
            }
            None => {
                if limit.is_some_and(|k| ratings.segments.len() >= k) {
                    continue;
                }
                index.insert(item.clone(), ratings.segments.len());
                ratings.segments.push(Segment {
                    id: item.clone(),
                    source,
                    references,
                    reference_names: Vec::new(),
                    reference_human: Vec::new(),
                });
                ratings.segments.len() - 1
            }
        };
        let system = r.label(&columns.system)?;
        if let Some(first) = seen.insert((segment, system.clone()), r.at.clone()) {
            return Err(format!("{}: system {system:?} already has an output for item {item:?} at {first}", r.at));
        }
        let human = ratings.dimensions.iter().map(|d| score_of(&r, d, textual)).collect::<Result<_, _>>()?;
        ratings.outputs.push(Output {
            segment,
            system,
            text: r.text(&columns.hypothesis, true)?,
            human,
            reference: None,
        });
    }
    Ok(ratings)
}

/// Adds each human reference of an item with two or more as a system of its own (`ref-1`, … or
/// the data's names), to be judged against the item's other references: how a metric ranks a
/// second human translation or summary among machine outputs. People's scores of it are used
/// where the data has them (MQM rates its references), else it is unrated.
pub fn add_references_as_systems(r: &mut Ratings) -> usize {
    let dims = r.dimensions.len();
    let mut added = 0;
    for (s, seg) in r.segments.iter().enumerate() {
        if seg.references.len() < 2 {
            continue;
        }
        for (k, text) in seg.references.iter().enumerate() {
            let system = seg.reference_names.get(k).cloned().unwrap_or_else(|| format!("ref-{}", k + 1));
            let human = seg.reference_human.get(k).cloned().unwrap_or_else(|| vec![f64::NAN; dims]);
            r.outputs.push(Output { segment: s, system, text: text.clone(), human, reference: Some(k) });
            added += 1;
        }
    }
    added
}
