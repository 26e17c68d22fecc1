//! `lmgauge perplexity`: one-off perplexity of a text file under one model (an ARPA file or a
//! Hugging Face folder), with the lm-evaluation-harness forms (token, word, byte perplexity, bits
//! per byte), or pseudo-perplexity for masked LMs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::data::{self, DatasetSpec, FieldMap, Format, Unit};
use crate::error::Error;
use crate::metrics::Metric;
use crate::metrics::perplexity::PerplexityCounts;
use crate::models::LanguageModel;
use crate::models::neural::{PllVariant, Windows};
use crate::models::ngram::NgramModel;

pub use super::vocabulary::RuntimeArgs;
use super::vocabulary::{JsonArg, ModelArg, pll_parser, print_json, windows_parser};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// An n-gram model: an ARPA file (plain or gzip) or a binary file from `ngram build`.
    Ngram,
    /// A causal LM (a GGUF file or a Hugging Face folder): token log-probabilities.
    Causal,
    /// A masked LM folder (BERT family): pseudo-log-likelihood.
    Masked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    /// Every line is an item.
    Line,
    /// Blank-line-separated paragraphs are items.
    Document,
    /// The whole file is one item.
    File,
}

#[derive(Debug, Args)]
pub struct PerplexityArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// What the model is; default: ngram for a file, causal for a GGUF file, causal or masked from
    /// a folder's config.json.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Text to score (text, JSONL, CSV or Parquet by extension; the `text` field for records).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    /// How a text file divides into independently scored items.
    #[arg(long, value_enum, default_value = "line")]
    pub unit: UnitArg,
    /// Tokens per window (neural models; default the model's context), 1 to 1,048,576.
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Causal: sliding windows with this stride (transformers' guide) instead of
    /// lm-evaluation-harness rolling windows. Masked: step between windows of a long text.
    #[arg(long)]
    pub stride: Option<usize>,
    /// Causal: rolling (lm-evaluation-harness, default) or llama-perplexity (llama.cpp's chunks
    /// of --max-length tokens, default 512, each scoring its second half; with --unit file it
    /// reproduces `llama-perplexity -f FILE`).
    #[arg(long, value_parser = windows_parser())]
    pub windows: Option<Windows>,
    /// Masked: pseudo-log-likelihood variant (default original).
    #[arg(long, value_parser = pll_parser())]
    pub pll: Option<PllVariant>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub json: JsonArg,
}

/// The kind a model path implies: GGUF files are causal LMs, other files ARPA models, folders say
/// in config.json.
pub(crate) fn infer_kind(path: &std::path::Path) -> Result<Kind, Error> {
    use crate::models::neural::hf;
    if crate::models::neural::gguf::is_gguf(path) {
        return Ok(Kind::Causal);
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
        // A truncated or mislabelled download must not be read as an ARPA file.
        let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        return Err(Error::Usage(format!(
            "{}: named .gguf but not a GGUF file ({len} bytes; it does not start with \"GGUF\"): truncated or corrupt download?",
            path.display()
        )));
    }
    if !path.is_dir() {
        return Ok(Kind::Ngram);
    }
    let config = hf::read_json(&path.join("config.json")).map_err(|e| Error::Model(e.into()))?;
    let Some(ty) = config.get("model_type").and_then(|v| v.as_str()) else {
        let what = if config.is_object() { "has no \"model_type\" string" } else { "is not a JSON object" };
        return Err(Error::Usage(format!(
            "{}: {what}: cannot tell the architecture",
            path.join("config.json").display()
        )));
    };
    let classifier = config
        .get("architectures")
        .and_then(|a| a.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.ends_with("ForSequenceClassification"))));
    if classifier {
        return Err(Error::Usage(format!(
            "{}: a sequence-classification (reward) model scores pairs, not text; use it as `kind: reward` in a preference task",
            path.display()
        )));
    }
    use crate::models::neural::{Family, registry};
    let (causal, masked) = (
        registry::names(registry::Format::HfFolder, Family::Causal),
        registry::names(registry::Format::HfFolder, Family::Masked),
    );
    if causal.contains(&ty) {
        Ok(Kind::Causal)
    } else if masked.contains(&ty) {
        Ok(Kind::Masked)
    } else {
        Err(Error::Usage(format!(
            "{}: model_type {ty:?} is not supported (causal: {}; masked: {})",
            path.join("config.json").display(),
            causal.join(", "),
            masked.join(", ")
        )))
    }
}

pub fn run(args: PerplexityArgs) -> Result<i32, Error> {
    use crate::models::neural::{self, Family, NeuralOptions};
    let path = &args.model.model;
    let kind = match args.kind {
        Some(k) => k,
        None => infer_kind(path)?,
    };
    if kind == Kind::Ngram
        && (args.max_length.is_some() || args.stride.is_some() || args.pll.is_some() || args.windows.is_some())
    {
        return Err(Error::Usage(
            "--max-length, --stride, --windows and --pll apply to neural models (causal, masked)".into(),
        ));
    }
    if kind == Kind::Masked && args.windows.is_some() {
        return Err(Error::Usage("--windows applies to causal models".into()));
    }
    if kind == Kind::Causal && args.pll.is_some() {
        return Err(Error::Usage("--pll applies to masked models".into()));
    }
    let options = NeuralOptions {
        max_length: args.max_length,
        stride: args.stride,
        windows: args.windows.unwrap_or_default(),
        pll: args.pll.unwrap_or_default(),
        ..args.runtime.options()
    };
    // The text first: a bad file fails before a slow model load.
    let format = Format::from_path(&args.input);
    let unit = match args.unit {
        UnitArg::Line => Unit::Line,
        UnitArg::Document => Unit::Document,
        UnitArg::File => Unit::File,
    };
    let spec = DatasetSpec { path: args.input.clone(), format, unit, fields: FieldMap::default(), limit: None };
    let items = data::load(&spec)?;
    let loading = std::time::Instant::now();
    tracing::info!("model {}: loading", path.display());
    let model: std::sync::Arc<dyn LanguageModel> = match kind {
        Kind::Ngram => std::sync::Arc::new(NgramModel::from_arpa(path)?),
        Kind::Causal => neural::load_linked(Family::Causal, path, &options).map_err(|e| Error::Model(e.into()))?,
        Kind::Masked => neural::load_linked(Family::Masked, path, &options).map_err(|e| Error::Model(e.into()))?,
    };
    tracing::info!(
        "model loaded in {:.1}s: {}; scoring {} items",
        loading.elapsed().as_secs_f64(),
        model.describe(),
        items.len()
    );
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let model_name = path.display().to_string();
    let scored: Vec<(PerplexityCounts, usize)> = model
        .likelihoods(&texts)?
        .iter()
        .zip(&items)
        .map(|(s, item)| {
            s.check_finite(&model_name, &item.location(&args.input)).map_err(Error::Usage)?;
            Ok((PerplexityCounts::from_scores(&item.text, s), s.oov))
        })
        .collect::<Result<_, Error>>()?;
    let pseudo = kind == Kind::Masked;
    let mut total = PerplexityCounts::default();
    let mut oov = 0;
    for (c, o) in &scored {
        total.add(c);
        oov += o;
    }
    let value = |m: Metric| total.metric(m);
    if args.json.json {
        let mut v = json!({
            "model": model_name,
            "items": items.len(),
            "tokens": total.tokens, "words": total.words, "bytes": total.bytes, "oov": oov, "nll": total.nll,
            "token_perplexity": value(Metric::TokenPerplexity),
            "word_perplexity": value(Metric::WordPerplexity),
            "byte_perplexity": value(Metric::BytePerplexity),
            "bits_per_byte": value(Metric::BitsPerByte),
        });
        if pseudo {
            // Masked LMs: the same arithmetic on pseudo-log-likelihoods, named for what it is.
            v["pseudo_perplexity"] = json!(value(Metric::PseudoPerplexity));
            v["pseudo_bits_per_byte"] = json!(value(Metric::PseudoBitsPerByte));
            v["pll"] = json!(options.pll.to_string());
        }
        print_json("perplexity", v);
    } else {
        println!("{}", crate::store::format::terminal_safe(&model.describe()));
        println!(
            "items {}  tokens {}  words {}  bytes {}  oov {}",
            items.len(),
            total.tokens,
            total.words,
            total.bytes,
            oov
        );
        for m in Metric::PERPLEXITY {
            let m = if pseudo { m.pseudo() } else { *m };
            println!("{:<22} {:.6}", m.name(), value(m));
        }
    }
    Ok(0)
}
