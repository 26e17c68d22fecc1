//! From suite file to [`Suite`]: parse with serde, then check every name, path, metric and
//! capability, collecting all problems with their file:line:column before any work starts.
//! What a task's type adds (its own keys, its metrics, what its models must do) is checked by the
//! type, through [`TaskTypes`], in the same pass.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::locate::{Locations, Position};
use super::spec::{
    DiscountFallbackSpec, MetricJudgeSpec, ModelSpec, NgramModelSpec, SUITE_VERSION, SuiteSpec, TASK_COMMON_KEYS,
    TaskCommonSpec, TaskSpec,
};
use super::{
    BleuRecipe, Diagnostic, JudgeRecipe, ModelDef, ModelKind, MultiReference, ScorePart, SentenceSplit, Suite,
    SuiteError, TaskDef, TaskTypes,
};
use crate::data::{DatasetSpec, Format, Unit};
use crate::metrics::Metric;
use crate::models::ngram::adapter::{NgramDef, NgramSource};
use crate::models::ngram::{DEFAULT_FALLBACK, SpecialSymbols, TrainOptions};

/// Reads, parses and validates a suite file; `types` checks what each task's type adds.
pub fn load_suite(path: &Path, types: &dyn TaskTypes) -> Result<Suite, SuiteError> {
    let bytes =
        std::fs::read(path).map_err(|e| SuiteError::single(path, 1, 1, format!("cannot read suite file: {e}")))?;
    parse_suite(path, &bytes, types)
}

/// Parses and validates suite bytes as if read from `path` (relative paths resolve beside it).
pub fn parse_suite(path: &Path, bytes: &[u8], types: &dyn TaskTypes) -> Result<Suite, SuiteError> {
    let source = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        SuiteError::single(path, line, 1, "invalid UTF-8")
    })?;
    let hash = hex::encode(Sha256::digest(bytes));
    let locations = Locations::index(source);
    if let Some(at) = locations.expansion_overflow {
        return Err(SuiteError::single(
            path,
            at.line,
            at.column,
            format!(
                "the suite expands to more than {} nodes through YAML aliases (`*name`); refusing to build it",
                super::locate::MAX_EXPANDED_NODES
            ),
        ));
    }
    let spec = parse_spec(path, source, &locations)?;
    Validator {
        file: path,
        seed: 0,
        base: path.parent().unwrap_or(Path::new(".")),
        locations: &locations,
        types,
        problems: Vec::new(),
    }
    .validate(spec, hash)
}

/// Parses the suite, reporting the first type error or unknown key of every model, every task
/// and the top level together (each with its field's path and position), not only the first one
/// serde meets.
fn parse_spec(path: &Path, source: &str, locations: &Locations) -> Result<SuiteSpec, SuiteError> {
    use serde_yaml::Value;
    let value: Value = serde_yaml::from_str(source).map_err(|e| serde_error(path, locations, &e))?;
    let mut problems = Vec::new();
    let mut report = |at: String, message: String| {
        // An unknown key is reported at the key itself.
        let unknown =
            message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(|k| format!("{at}.{k}"));
        let pos = locations.find(unknown.as_deref().unwrap_or(&at));
        let message = if at.is_empty() { message } else { format!("{at}: {message}") };
        problems.push(Diagnostic { file: path.to_owned(), line: pos.line, column: pos.column, message });
    };
    if let Value::Mapping(top) = &value {
        let mut rest = top.clone();
        for (key, check) in [("models", model_problem as fn(&Value) -> Vec<Problem>), ("tasks", task_problem)] {
            if let Some(Value::Sequence(items)) = top.get(key) {
                for (i, item) in items.iter().enumerate() {
                    for (field, message) in check(item) {
                        report(join_path(&format!("{key}[{i}]"), &field), message);
                    }
                }
                rest.insert(Value::from(key), Value::Sequence(Vec::new()));
            }
        }
        for (field, message) in mapping_problems::<SuiteSpec>(rest) {
            report(join_path("", &field), message);
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|d| (d.line, d.column));
        return Err(SuiteError { diagnostics: problems });
    }
    serde_yaml::from_str(source).map_err(|e| serde_error(path, locations, &e))
}

fn join_path(base: &str, field: &str) -> String {
    match (base, field) {
        (b, "" | ".") => b.to_owned(),
        ("", f) => f.to_owned(),
        (b, f) if f.starts_with('[') => format!("{b}{f}"),
        (b, f) => format!("{b}.{f}"),
    }
}

/// A problem: the field's path inside its entry, and serde's message.
type Problem = (String, String);

/// The problems of one entry of a tagged list, deserialized as the variant its tag names so that
/// each error carries its field's path: every unknown key (each is taken out and the entry read
/// again), then the first other error.
fn variant_problem<T: serde::de::DeserializeOwned>(item: &serde_yaml::Value, tag: &str) -> Vec<Problem> {
    let Some(entry) = item.as_mapping() else { return whole_problem::<T>(item) };
    let mut entry = entry.clone();
    entry.remove(tag);
    mapping_problems::<T>(entry)
}

/// Every unknown key of a mapping read as `T` (each taken out before reading it again), then
/// the first other error.
fn mapping_problems<T: serde::de::DeserializeOwned>(mut entry: serde_yaml::Mapping) -> Vec<Problem> {
    let mut problems = Vec::new();
    while let Err(e) = serde_path_to_error::deserialize::<_, T>(serde_yaml::Value::Mapping(entry.clone())) {
        let message = e.inner().to_string();
        let unknown = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(str::to_owned);
        problems.push((e.path().to_string(), message));
        match unknown {
            // Only the entry's own keys can be taken out; one nested deeper ends the search.
            Some(key) if entry.remove(key.as_str()).is_some() => continue,
            _ => break,
        }
    }
    problems
}

fn whole_problem<T: serde::de::DeserializeOwned>(item: &serde_yaml::Value) -> Vec<Problem> {
    serde_path_to_error::deserialize::<_, T>(item.clone())
        .err()
        .map(|e| (e.path().to_string(), e.inner().to_string()))
        .into_iter()
        .collect()
}

fn model_problem(item: &serde_yaml::Value) -> Vec<Problem> {
    use super::spec::*;
    match item.get("kind").and_then(serde_yaml::Value::as_str) {
        Some("ngram") => variant_problem::<NgramModelSpec>(item, "kind"),
        Some("outputs") => variant_problem::<OutputsModelSpec>(item, "kind"),
        Some("length" | "random") => variant_problem::<BaselineJudgeSpec>(item, "kind"),
        Some("metric") => variant_problem::<MetricJudgeSpec>(item, "kind"),
        Some("causal" | "masked" | "reward" | "encoder") => variant_problem::<NeuralModelSpec>(item, "kind"),
        _ => whole_problem::<ModelSpec>(item),
    }
}

/// A task's problems with the keys every task has; its type's own keys are checked by the type.
fn task_problem(item: &serde_yaml::Value) -> Vec<Problem> {
    match item.as_mapping() {
        Some(entry) => mapping_problems::<TaskCommonSpec>(TaskSpec::split(entry.clone()).0),
        None => whole_problem::<TaskCommonSpec>(item),
    }
}

/// Reads a task type's own keys (the rest of a task entry) as `T`: every unknown key and the
/// first other error, each with its path inside the task. An unknown key's message lists the
/// keys every task has as well as the type's.
pub fn read_options<T: serde::de::DeserializeOwned>(options: &serde_yaml::Mapping) -> Result<T, Vec<(String, String)>> {
    let problems = mapping_problems::<T>(options.clone());
    if problems.is_empty() {
        return serde_yaml::from_value(serde_yaml::Value::Mapping(options.clone()))
            .map_err(|e| vec![(String::new(), e.to_string())]);
    }
    let located = |(at, message): Problem| {
        // An unknown key is reported at the key itself.
        let key = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(str::to_owned);
        let at = match key {
            Some(k) if at.is_empty() || at == "." => k,
            _ if at == "." => String::new(),
            _ => at,
        };
        (at, with_common_keys(message))
    };
    Err(problems.into_iter().map(located).collect())
}

/// serde's "unknown field `k`, expected one of `a`, `b`" (or "expected `a`", or "there are no
/// fields") with the keys every task has listed first.
fn with_common_keys(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message };
    let Some((key, tail)) = rest.split_once("`, ") else { return message };
    let own = tail.strip_prefix("expected one of ").or_else(|| tail.strip_prefix("expected ")).unwrap_or("");
    let mut keys: Vec<String> = TASK_COMMON_KEYS.iter().map(|k| format!("`{k}`")).collect();
    keys.extend(own.split(", ").filter(|k| !k.is_empty()).map(str::to_owned));
    format!("unknown field `{key}`, expected one of {}", keys.join(", "))
}

/// serde_yaml's message with the sharpest position we can find: for an unknown or missing key
/// inside a tagged entry serde reports the entry, so look the key itself up.
fn serde_error(path: &Path, locations: &Locations, e: &serde_yaml::Error) -> SuiteError {
    let mut pos = e
        .location()
        .map(|l| Position { line: l.line(), column: l.column() })
        .unwrap_or(Position { line: 1, column: 1 });
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    if let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.split("unknown field `").nth(1))
        && let Some(key) = rest.split('`').next()
        && let Some(p) = locations.key_after(key, Position { line: pos.line, column: 1 })
    {
        pos = p;
    }
    SuiteError::single(path, pos.line, pos.column, message)
}

struct Validator<'a> {
    file: &'a Path,
    /// The suite's seed (the default of generation tasks' sampling seed).
    seed: u64,
    base: &'a Path,
    locations: &'a Locations,
    types: &'a dyn TaskTypes,
    problems: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn problem(&mut self, at: &str, message: String) {
        let pos = self.locations.find(at);
        self.problems.push(Diagnostic { file: self.file.to_owned(), line: pos.line, column: pos.column, message });
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_owned() } else { self.base.join(p) }
    }

    /// Resolves a path and reports it when the file does not exist.
    fn existing(&mut self, at: &str, p: &Path, what: &str) -> PathBuf {
        let full = self.resolve(p);
        if full.is_dir() {
            self.problem(
                at,
                format!("{what} {} is a directory, not a file (resolved to {})", p.display(), full.display()),
            );
        } else if !full.is_file() {
            self.problem(at, format!("{what} {} does not exist (resolved to {})", p.display(), full.display()));
        }
        full
    }

    fn check_name(&mut self, at: &str, what: &str, name: &str) {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.starts_with('.');
        if !ok {
            self.problem(
                at,
                format!("{what} {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
            );
        }
    }

    fn validate(mut self, spec: SuiteSpec, hash: String) -> Result<Suite, SuiteError> {
        self.seed = spec.seed;
        if spec.version != SUITE_VERSION {
            self.problem(
                "version",
                format!("unsupported suite version {} (this build reads version {SUITE_VERSION})", spec.version),
            );
        }
        self.check_name("name", "suite name", &spec.name);
        if let Some(n) = spec.bootstrap.filter(|n| !(1..=crate::metrics::stats::MAX_RESAMPLES).contains(n)) {
            self.problem(
                "bootstrap",
                format!("bootstrap must be between 1 and {} resamples, not {n}", crate::metrics::stats::MAX_RESAMPLES),
            );
        }
        if spec.models.is_empty() {
            self.problem("models", "the suite defines no models".into());
        }
        if spec.tasks.is_empty() {
            self.problem("tasks", "the suite defines no tasks".into());
        }

        let mut models = Vec::new();
        let mut seen = HashSet::new();
        for (i, m) in spec.models.iter().enumerate() {
            let at = format!("models[{i}]");
            self.check_name(&format!("{at}.id"), "model id", m.id());
            if !seen.insert(m.id().to_owned()) {
                self.problem(&format!("{at}.id"), format!("duplicate model id {:?}", m.id()));
            }
            if let Some(def) = self.model(&at, m) {
                models.push(def);
            }
        }

        let mut tasks = Vec::new();
        let mut task_ids = HashSet::new();
        for (i, t) in spec.tasks.iter().enumerate() {
            let at = format!("tasks[{i}]");
            self.check_name(&format!("{at}.id"), "task id", t.id());
            if !task_ids.insert(t.id().to_owned()) {
                self.problem(&format!("{at}.id"), format!("duplicate task id {:?}", t.id()));
            }
            if let Some(def) = self.task(&at, t, &mut models) {
                tasks.push(def);
            }
        }

        if let Some(Err(e)) = spec.gates.as_ref().map(|g| g.check()) {
            self.problem("gates", e);
        }
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|d| (d.line, d.column));
            return Err(SuiteError { diagnostics: self.problems });
        }
        Ok(Suite {
            name: spec.name,
            description: spec.description,
            seed: spec.seed,
            bootstrap_resamples: spec.bootstrap.unwrap_or(1000),
            file: self.file.to_owned(),
            hash,
            models,
            tasks,
            gates: spec.gates,
        })
    }

    /// A metric judge's recipe: which part of ROUGE, and how several references combine.
    fn recipe(&mut self, at: &str, m: &MetricJudgeSpec, metric: Metric) -> Option<JudgeRecipe> {
        let mut recipe = JudgeRecipe::of(metric);
        let rouge = metric.name().starts_with("rouge");
        if let Some(part) = &m.part {
            match (part.as_str(), rouge) {
                ("f" | "fmeasure", true) => recipe.part = ScorePart::F,
                ("p" | "precision", true) => recipe.part = ScorePart::Precision,
                ("r" | "recall", true) => recipe.part = ScorePart::Recall,
                (_, true) => {
                    self.problem(
                        &format!("{at}.part"),
                        format!("model {:?}: part {part:?} is not one of fmeasure, precision, recall", m.id),
                    );
                    return None;
                }
                (_, false) => {
                    self.problem(
                        &format!("{at}.part"),
                        format!("model {:?}: `part` applies to ROUGE judges only", m.id),
                    );
                    return None;
                }
            }
        }
        if let Some(refs) = &m.references {
            match (refs.as_str(), rouge) {
                ("mean", true) => recipe.references = MultiReference::Mean,
                ("max", true) => recipe.references = MultiReference::Max,
                (_, true) => {
                    self.problem(
                        &format!("{at}.references"),
                        format!("model {:?}: references {refs:?} is not mean or max", m.id),
                    );
                    return None;
                }
                (_, false) => {
                    self.problem(
                        &format!("{at}.references"),
                        format!("model {:?}: `references` applies to ROUGE judges only (BLEU and chrF use every reference at once, as sacrebleu does)", m.id),
                    );
                    return None;
                }
            }
        }
        if let Some(split) = &m.sentences {
            if metric != Metric::RougeLsum {
                self.problem(
                    &format!("{at}.sentences"),
                    format!("model {:?}: `sentences` applies to rougeLsum only", m.id),
                );
                return None;
            }
            recipe.sentences = match split.as_str() {
                "newline" => SentenceSplit::Newline,
                "period" => SentenceSplit::Period,
                other => {
                    self.problem(
                        &format!("{at}.sentences"),
                        format!("model {:?}: sentences {other:?} is not newline or period", m.id),
                    );
                    return None;
                }
            };
        }
        if let Some(name) = &m.recipe {
            match (name.as_str(), metric) {
                ("sentence", Metric::Bleu) => {}
                ("wmt19-moses", Metric::Bleu) => recipe.bleu = BleuRecipe::Wmt19Moses,
                (_, Metric::Bleu) => {
                    self.problem(
                        &format!("{at}.recipe"),
                        format!("model {:?}: recipe {name:?} is not sentence or wmt19-moses", m.id),
                    );
                    return None;
                }
                _ => {
                    self.problem(
                        &format!("{at}.recipe"),
                        format!("model {:?}: `recipe` applies to BLEU judges only", m.id),
                    );
                    return None;
                }
            }
        }
        Some(recipe)
    }

    fn model(&mut self, at: &str, spec: &ModelSpec) -> Option<ModelDef> {
        match spec {
            ModelSpec::Ngram(m) => {
                let source = self.ngram(at, m)?;
                let def = NgramDef { source, split_punctuation: m.split_punctuation };
                Some(ModelDef { id: m.id.clone(), description: m.description.clone(), kind: ModelKind::Ngram(def) })
            }
            ModelSpec::Length(m) => {
                Some(ModelDef { id: m.id.clone(), description: m.description.clone(), kind: ModelKind::Length })
            }
            ModelSpec::Random(m) => {
                Some(ModelDef { id: m.id.clone(), description: m.description.clone(), kind: ModelKind::Random })
            }
            ModelSpec::Metric(m) => match m.metric.parse::<Metric>() {
                Ok(metric) if Metric::REFERENCE.contains(&metric) => {
                    let recipe = self.recipe(at, m, metric)?;
                    Some(ModelDef {
                        id: m.id.clone(),
                        description: m.description.clone(),
                        kind: ModelKind::MetricJudge(recipe),
                    })
                }
                _ => {
                    self.problem(&format!("{at}.metric"), format!("model {:?}: a metric judge needs one of bleu, chrf, chrf++, rouge1, rouge2, rougeL, rougeLsum, not {:?}", m.id, m.metric));
                    None
                }
            },
            ModelSpec::Causal(m) => self.neural(at, m, crate::models::neural::Family::Causal),
            ModelSpec::Masked(m) => self.neural(at, m, crate::models::neural::Family::Masked),
            ModelSpec::Reward(m) => self.neural(at, m, crate::models::neural::Family::Reward),
            ModelSpec::Encoder(m) => self.neural(at, m, crate::models::neural::Family::Encoder),
            ModelSpec::Outputs(m) => {
                let path = self.existing(&format!("{at}.path"), &m.path, "outputs file");
                let format = m.format.unwrap_or_else(|| Format::from_path(&m.path));
                if format != Format::Text && m.field.is_none() {
                    self.problem(at, format!("model {:?}: `field` names the output field of a {format:?} file", m.id));
                }
                let field = m.field.clone().unwrap_or_else(|| "text".into());
                let kind = ModelKind::Outputs(super::OutputsSource { path, format, field });
                Some(ModelDef { id: m.id.clone(), description: m.description.clone(), kind })
            }
        }
    }

    fn neural(
        &mut self,
        at: &str,
        m: &super::spec::NeuralModelSpec,
        family: crate::models::neural::Family,
    ) -> Option<ModelDef> {
        use crate::models::neural::{self, NeuralOptions};
        let path = self.resolve(&m.path);
        let gguf = neural::gguf::is_gguf(&path);
        if gguf && family != neural::Family::Causal {
            self.problem(
                &format!("{at}.path"),
                format!(
                    "model {:?}: {} is a GGUF file, which holds a causal LM; use kind causal",
                    m.id,
                    m.path.display()
                ),
            );
        } else if !gguf && !path.join("config.json").is_file() {
            self.problem(&format!("{at}.path"), format!("model {:?}: {} is neither a GGUF file nor a Hugging Face model folder (no config.json; resolved to {})", m.id, m.path.display(), path.display()));
        }
        let mut options = NeuralOptions::default();
        let mut parse = |key: &str, value: &Option<String>, apply: &mut dyn FnMut(&str) -> Result<(), String>| {
            if let Some(v) = value
                && let Err(e) = apply(v)
            {
                self.problem(&format!("{at}.{key}"), format!("model {:?}: {e}", m.id));
            }
        };
        parse("device", &m.device, &mut |v| v.parse().map(|d| options.device = d));
        parse("dtype", &m.dtype, &mut |v| v.parse().map(|d| options.dtype = d));
        parse("pll", &m.pll, &mut |v| v.parse().map(|p| options.pll = p));
        parse("compute", &m.compute, &mut |v| v.parse().map(|c| options.compute = Some(c)));
        parse("windows", &m.windows, &mut |v| v.parse().map(|w| options.windows = w));
        if family != neural::Family::Causal && m.windows.is_some() {
            self.problem(
                &format!("{at}.windows"),
                format!("model {:?}: `windows` applies to causal models only", m.id),
            );
        }
        if options.compute == Some(neural::Compute::Quantized) && !gguf {
            self.problem(
                &format!("{at}.compute"),
                format!("model {:?}: compute: quantized needs a GGUF file; a model folder runs in f32", m.id),
            );
        }
        let quantized = gguf && options.compute != Some(neural::Compute::F32);
        if !(neural::ENABLED || quantized) {
            self.problem(
                at,
                format!(
                    "model {:?}: kind {} is not enabled in this build (built without the `torch` feature; GGUF files with compute: quantized are)",
                    m.id,
                    family.name()
                ),
            );
            return None;
        }
        if family != neural::Family::Masked && m.pll.is_some() {
            self.problem(&format!("{at}.pll"), format!("model {:?}: `pll` applies to masked models only", m.id));
        }
        for (key, given) in [("layer", m.layer.is_some()), ("idf", m.idf.is_some())] {
            if family != neural::Family::Encoder && given {
                self.problem(
                    &format!("{at}.{key}"),
                    format!("model {:?}: `{key}` applies to encoders (kind: encoder) only", m.id),
                );
            }
        }
        if m.layer == Some(0) {
            self.problem(
                &format!("{at}.layer"),
                format!("model {:?}: layers count from 1 (the first transformer layer)", m.id),
            );
        }
        if family == neural::Family::Encoder && m.stride.is_some() {
            self.problem(
                &format!("{at}.stride"),
                format!("model {:?}: `stride` does not apply to encoders (a text longer than the model's positions is cut, as bert-score cuts it)", m.id),
            );
        }
        if family == neural::Family::Reward && m.stride.is_some() {
            self.problem(
                &format!("{at}.stride"),
                format!(
                    "model {:?}: `stride` does not apply to reward models (pairs are truncated, longest first)",
                    m.id
                ),
            );
        }
        for (key, value, max) in [
            ("max_length", m.max_length, neural::MAX_WINDOW),
            ("stride", m.stride, neural::MAX_WINDOW),
            ("batch_tokens", m.batch_tokens, neural::MAX_BATCH_TOKENS),
        ] {
            if let Some(v) = value.filter(|v| !(1..=max).contains(v)) {
                self.problem(
                    &format!("{at}.{key}"),
                    format!("model {:?}: `{key}` must be between 1 and {max}, not {v}", m.id),
                );
            }
        }
        options.max_length = m.max_length;
        options.stride = m.stride;
        options.layer = m.layer;
        options.idf = m.idf.unwrap_or(false);
        options.chat = self.chat(at, m, family, &path);
        options.batch_tokens = m.batch_tokens.unwrap_or(neural::DEFAULT_BATCH_TOKENS);
        let kind = ModelKind::Neural(super::NeuralSource { family, path, options });
        Some(ModelDef { id: m.id.clone(), description: m.description.clone(), kind })
    }

    /// A causal model's chat options: `system` and `chat_template` need `chat: true`, and the
    /// model (or the named file) must have a template that parses.
    fn chat(
        &mut self,
        at: &str,
        m: &super::spec::NeuralModelSpec,
        family: crate::models::neural::Family,
        path: &Path,
    ) -> Option<crate::models::neural::ChatOptions> {
        let on = m.chat.unwrap_or(false);
        for (key, given) in
            [("chat", m.chat.is_some()), ("system", m.system.is_some()), ("chat_template", m.chat_template.is_some())]
        {
            if given && family != crate::models::neural::Family::Causal {
                self.problem(
                    &format!("{at}.{key}"),
                    format!("model {:?}: `{key}` applies to causal models only", m.id),
                );
                return None;
            }
            if given && key != "chat" && !on {
                self.problem(&format!("{at}.{key}"), format!("model {:?}: `{key}` needs `chat: true`", m.id));
            }
        }
        if !on {
            return None;
        }
        let template = m.chat_template.as_ref().map(|t| self.resolve(t));
        if let Some(t) = &template
            && !t.is_file()
        {
            self.problem(
                &format!("{at}.chat_template"),
                format!("model {:?}: no such template file {}", m.id, t.display()),
            );
            return None;
        }
        if path.exists()
            && let Err(e) = crate::models::neural::chat_source::chat_model_template(path, template.as_deref())
        {
            let key = if template.is_some() { "chat_template" } else { "chat" };
            self.problem(&format!("{at}.{key}"), format!("model {:?}: {e}", m.id));
        }
        Some(crate::models::neural::ChatOptions { template, system: m.system.clone() })
    }

    fn ngram(&mut self, at: &str, m: &NgramModelSpec) -> Option<NgramSource> {
        match (&m.train, &m.arpa) {
            (Some(_), Some(_)) => {
                self.problem(
                    &format!("{at}.arpa"),
                    format!("model {:?}: give either `train` or `arpa`, not both", m.id),
                );
                None
            }
            (None, None) => {
                self.problem(
                    at,
                    format!("model {:?}: an ngram model needs `train: FILE` (with `order`) or `arpa: FILE`", m.id),
                );
                None
            }
            (None, Some(arpa)) => {
                for (key, set) in [
                    ("order", m.order.is_some()),
                    ("prune", !m.prune.is_empty()),
                    ("discount_fallback", m.discount_fallback.is_some()),
                ] {
                    if set {
                        self.problem(
                            &format!("{at}.{key}"),
                            format!("model {:?}: `{key}` applies only when training", m.id),
                        );
                    }
                }
                Some(NgramSource::Arpa(self.existing(&format!("{at}.arpa"), arpa, "ARPA file")))
            }
            (Some(train), None) => {
                let text = self.existing(&format!("{at}.train"), train, "training text");
                let Some(order) = m.order else {
                    self.problem(at, format!("model {:?}: `order` is required with `train`", m.id));
                    return None;
                };
                let max_order = crate::models::ngram::arpa::MAX_ORDER;
                if order > max_order {
                    // Reported here; the model stays defined so that tasks naming it add no noise.
                    self.problem(
                        &format!("{at}.order"),
                        format!("model {:?}: `order` must be between 1 and {max_order}, not {order}", m.id),
                    );
                }
                let order = order.min(max_order);
                let discount_fallback = match &m.discount_fallback {
                    None | Some(DiscountFallbackSpec::Enabled(false)) => None,
                    Some(DiscountFallbackSpec::Enabled(true)) => Some(DEFAULT_FALLBACK),
                    Some(DiscountFallbackSpec::Values(v)) => match crate::models::ngram::fallback_from(v) {
                        Ok(d) if v.len() <= 3 => Some(d),
                        Ok(_) => {
                            self.problem(&format!("{at}.discount_fallback"), "at most three fallback discounts".into());
                            None
                        }
                        Err(e) => {
                            self.problem(&format!("{at}.discount_fallback"), e.to_string());
                            None
                        }
                    },
                };
                let options = TrainOptions { order, discount_fallback, prune: m.prune.clone() };
                if let Err(e) = options.resolved_prune() {
                    let key = if order == 0 { "order" } else { "prune" };
                    self.problem(&format!("{at}.{key}"), format!("model {:?}: {e}", m.id));
                }
                let specials = if m.skip_symbols { SpecialSymbols::Skip } else { SpecialSymbols::Reject };
                Some(NgramSource::Train { text, options, specials })
            }
        }
    }

    /// The judges a task of `task_type` runs when it lists no models (a human-agreement task:
    /// every reference metric), added to the suite's models under their metric's name unless
    /// the suite defines that id already as the same metric judge.
    fn default_judges(&mut self, at: &str, task_type: &str, models: &mut Vec<ModelDef>) -> Vec<String> {
        let mut ids = Vec::new();
        for &metric in self.types.default_judges(task_type) {
            let id = metric.name().replace("++", "pp");
            match models.iter().find(|m| m.id == id) {
                Some(m) if matches!(&m.kind, ModelKind::MetricJudge(r) if *r == JudgeRecipe::of(metric)) => {}
                Some(m) => {
                    self.problem(
                        &format!("{at}.models"),
                        format!(
                            "the task lists no models, so it runs every reference metric, but model {id:?} is a {} model; list the task's judges",
                            m.kind.name()
                        ),
                    );
                    continue;
                }
                None => models.push(ModelDef {
                    id: id.clone(),
                    description: None,
                    kind: ModelKind::MetricJudge(JudgeRecipe::of(metric)),
                }),
            }
            ids.push(id);
        }
        ids
    }

    fn task(&mut self, at: &str, spec: &TaskSpec, models: &mut Vec<ModelDef>) -> Option<TaskDef> {
        let t = &spec.common;
        let mut listed = t.models.clone();
        if listed.is_empty() {
            listed = self.default_judges(at, &t.task_type, models);
        }
        let raw = &t.dataset;
        // A folder is checked by the task's type: some read every file in one.
        let path = self.resolve(&raw.path);
        if !path.exists() {
            self.problem(
                &format!("{at}.dataset.path"),
                format!("dataset {} does not exist (resolved to {})", raw.path.display(), path.display()),
            );
        }
        let format = raw.format.unwrap_or_else(|| Format::from_path(&raw.path));
        if raw.unit.is_some() && format != Format::Text {
            self.problem(&format!("{at}.dataset.unit"), "`unit` applies only to text datasets".into());
        }
        if raw.limit == Some(0) {
            self.problem(&format!("{at}.dataset.limit"), "`limit` must be at least 1".into());
        }
        if listed.is_empty() {
            self.problem(&format!("{at}.models"), format!("task {:?} lists no models", t.id));
        }
        for (j, id) in listed.iter().enumerate() {
            if !models.iter().any(|m| &m.id == id) {
                self.problem(&format!("{at}.models[{j}]"), format!("task {:?}: unknown model id {id:?}", t.id));
            }
        }
        let Some(produces) = self.types.metrics(&t.task_type) else {
            self.problem(
                &format!("{at}.type"),
                format!("unknown task type {:?} (one of: {})", t.task_type, self.types.names().join(", ")),
            );
            return None;
        };
        let mut metrics = Vec::new();
        if t.metrics.is_empty() {
            self.problem(&format!("{at}.metrics"), format!("task {:?} lists no metrics", t.id));
        }
        for (j, name) in t.metrics.iter().enumerate() {
            match name.parse::<Metric>() {
                Ok(m) if produces.contains(&m) => metrics.push(m),
                _ => {
                    let valid: Vec<&str> = produces.iter().map(|m| m.name()).collect();
                    self.problem(
                        &format!("{at}.metrics[{j}]"),
                        format!("a {} task cannot produce metric {name:?} (it can: {})", t.task_type, valid.join(", ")),
                    );
                }
            }
        }
        let def = TaskDef {
            id: t.id.clone(),
            description: t.description.clone(),
            task_type: t.task_type.clone(),
            dataset: DatasetSpec {
                path,
                format,
                unit: raw.unit.unwrap_or(Unit::Line),
                fields: raw.fields.clone().unwrap_or_default(),
                limit: raw.limit,
            },
            source: raw.source.clone(),
            models: listed,
            metrics,
            options: spec.options.clone(),
        };
        // Models that are not defined were reported above; the type sees every defined one (its
        // options may name a model beside the listed ones, as a base to compare with).
        let mut found = Vec::new();
        let suite = (self.seed, self.base);
        self.types.check(&def, models.as_slice(), suite, &mut |key, message| found.push((join_path(at, key), message)));
        for (path, message) in found {
            self.problem(&path, message);
        }
        Some(def)
    }
}
