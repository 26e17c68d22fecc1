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
use crate::models::ngram::NgramModel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// An ARPA back-off model (plain or gzip).
    Ngram,
    /// A causal LM folder (GPT-2): token log-probabilities.
    Causal,
    /// A masked LM folder (BERT, DistilBERT): pseudo-log-likelihood.
    Masked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    Line,
    Document,
    File,
}

#[derive(Debug, Args)]
pub struct PerplexityArgs {
    /// The model: an ARPA file (.arpa or .arpa.gz), a binary n-gram file (`lmgauge ngram build`), a
    /// GGUF file or a Hugging Face model folder.
    #[arg(long)]
    pub model: PathBuf,
    /// Default: ngram for a file, causal or masked from a folder's config.json.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Text to score (text, JSONL, CSV or Parquet by extension; the `text` field for records).
    #[arg(long, short = 'i')]
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
    #[arg(long)]
    pub windows: Option<String>,
    /// Masked: pseudo-log-likelihood variant.
    #[arg(long, value_parser = ["original", "word-l2r"])]
    pub pll: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[arg(long)]
    pub json: bool,
}

/// Where and how a neural model runs (shared by `perplexity` and `generate`).
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// f32, f16 or bf16 (half precision on CUDA only).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Token slots per forward pass, padding included, 1 to 4,194,304 (generation: prompts are
    /// decoded in batches of about this many positions).
    #[arg(long, default_value_t = crate::models::neural::DEFAULT_BATCH_TOKENS)]
    pub batch_tokens: usize,
    /// GGUF files: quantized (default; the file's own weights on the CPU, as llama.cpp computes
    /// them, without libtorch) or f32 (dequantized through libtorch, as transformers computes
    /// them).
    #[arg(long)]
    pub compute: Option<String>,
}

impl RuntimeArgs {
    /// Neural options with these runtime settings and every other field at its default.
    pub fn options(&self) -> Result<crate::models::neural::NeuralOptions, Error> {
        Ok(crate::models::neural::NeuralOptions {
            device: self.device.parse().map_err(Error::Usage)?,
            dtype: self.dtype.parse().map_err(Error::Usage)?,
            batch_tokens: self.batch_tokens,
            compute: self.compute.as_deref().map(str::parse).transpose().map_err(Error::Usage)?,
            ..Default::default()
        })
    }
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
    let kind = match args.kind {
        Some(k) => k,
        None => infer_kind(&args.model)?,
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
        windows: args.windows.as_deref().unwrap_or("rolling").parse().map_err(Error::Usage)?,
        pll: args.pll.as_deref().unwrap_or("original").parse().map_err(Error::Usage)?,
        ..args.runtime.options()?
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
    let model: std::sync::Arc<dyn LanguageModel> = match kind {
        Kind::Ngram => std::sync::Arc::new(NgramModel::from_arpa(&args.model)?),
        Kind::Causal => {
            neural::load_linked(Family::Causal, &args.model, &options).map_err(|e| Error::Model(e.into()))?
        }
        Kind::Masked => {
            neural::load_linked(Family::Masked, &args.model, &options).map_err(|e| Error::Model(e.into()))?
        }
    };
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let model_name = args.model.display().to_string();
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
    if args.json {
        let mut v = json!({
            "model": args.model.display().to_string(),
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
        println!("{}", serde_json::to_string_pretty(&v).expect("serializable"));
    } else {
        println!("{}", model.describe());
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
