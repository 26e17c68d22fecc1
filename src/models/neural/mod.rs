//! Neural language models from Hugging Face model folders, run on libtorch through rust-bert:
//! causal LMs (GPT-2) scored token by token, masked LMs (BERT, DistilBERT) scored by
//! pseudo-log-likelihood.
//!
//! The folder, tokenizer and window logic ([`hf`], [`windows`]) are plain Rust and build always;
//! the networks need the `torch` feature. A build without it still parses suites that name neural
//! models and says plainly that they are "not enabled in this build" when asked to load one.

pub mod activation;
pub mod deberta_config;
pub mod gguf;
pub mod hf;
pub mod llama_config;
pub mod quantized;
pub mod registry;
pub mod scoring;
pub mod windows;

// tch's `+=` on a Tensor adds in place (`g_add_`): on a view (`select`, `narrow`) it writes
// through to the source tensor, so the networks keep `x = x + y`, which allocates a new one.
#[cfg(feature = "torch")]
#[allow(clippy::assign_op_pattern)]
mod enabled;
#[cfg(feature = "torch")]
use enabled as imp;
#[cfg(not(feature = "torch"))]
mod disabled;
#[cfg(not(feature = "torch"))]
use disabled as imp;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use super::LanguageModel;

/// Whether this build can run neural models at all.
pub const ENABLED: bool = cfg!(feature = "torch");

/// Causal or masked: what a neural model's scores mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Causal,
    Masked,
    /// Sequence classification with one output: a reward for (prompt, response).
    Reward,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Causal => "causal",
            Family::Masked => "masked",
            Family::Reward => "reward",
        }
    }

    /// What a loaded model of this family can do, known before it loads.
    pub fn capabilities(self) -> &'static [super::Capability] {
        use super::Capability;
        match self {
            Family::Causal => &[Capability::ScoreTokens, Capability::Generate],
            Family::Masked => &[Capability::PseudoLogLikelihood],
            Family::Reward => &[Capability::Reward],
        }
    }
}

/// Where the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when libtorch sees one, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("unknown device {s:?} (expected auto, cpu, cuda or cuda:N)")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Precision of the weights and activations; half precision only on CUDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dtype {
    #[default]
    F32,
    F16,
    Bf16,
}

impl FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" | "float32" => Ok(Dtype::F32),
            "f16" | "float16" => Ok(Dtype::F16),
            "bf16" | "bfloat16" => Ok(Dtype::Bf16),
            _ => Err(format!("unknown dtype {s:?} (expected f32, f16 or bf16)")),
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        })
    }
}

/// How a GGUF file's network is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// With the file's quantized weights and 8-bit activations, as llama.cpp computes it, on the
    /// CPU without libtorch (the default for GGUF files).
    Quantized,
    /// Dequantized to f32 and run through libtorch, as transformers runs a GGUF file (the only
    /// way for model folders).
    F32,
}

impl FromStr for Compute {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "quantized" => Ok(Compute::Quantized),
            "f32" => Ok(Compute::F32),
            _ => Err(format!("unknown compute {s:?} (expected quantized or f32)")),
        }
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compute::Quantized => "quantized",
            Compute::F32 => "f32",
        })
    }
}

/// How a causal model's text is cut into windows (`stride` chooses sliding windows instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Windows {
    /// lm-evaluation-harness's `loglikelihood_rolling`.
    #[default]
    Rolling,
    /// llama.cpp's `llama-perplexity`: chunks of `max_length` (default 512), each scoring the
    /// tokens of its second half.
    LlamaPerplexity,
}

impl FromStr for Windows {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rolling" => Ok(Windows::Rolling),
            "llama-perplexity" => Ok(Windows::LlamaPerplexity),
            _ => Err(format!("unknown windows {s:?} (expected rolling or llama-perplexity)")),
        }
    }
}

/// Pseudo-log-likelihood variants for masked LMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PllVariant {
    /// Salazar et al. (2020): mask one token at a time.
    #[default]
    Original,
    /// Kauf & Ivanova (2023): also mask the later tokens of the same word, so a word split into
    /// pieces is not predicted from its own remaining pieces.
    WordL2r,
}

impl FromStr for PllVariant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "original" | "l2r" => Ok(PllVariant::Original),
            "word-l2r" => Ok(PllVariant::WordL2r),
            _ => Err(format!("unknown PLL variant {s:?} (expected original or word-l2r)")),
        }
    }
}

impl fmt::Display for PllVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PllVariant::Original => "original",
            PllVariant::WordL2r => "word-l2r",
        })
    }
}

/// How a neural model reads text; every field has the default a user of the reference tools
/// would expect.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralOptions {
    pub device: DeviceChoice,
    pub dtype: Dtype,
    /// Tokens per window; default the model's context (`n_positions`, `max_position_embeddings`).
    pub max_length: Option<usize>,
    /// Causal: the sliding-window policy with this stride (absent: lm-evaluation-harness rolling
    /// windows). Masked: the step between windows of a long text (default half a window).
    pub stride: Option<usize>,
    pub pll: PllVariant,
    /// Padded tokens per forward pass.
    pub batch_tokens: usize,
    /// How a GGUF file is computed (absent: quantized for GGUF files, f32 for model folders).
    pub compute: Option<Compute>,
    /// Causal models: the window policy.
    pub windows: Windows,
}

/// Measured on a 2-core CPU with packed rows: SmolLM2 on 60 short documents ran about 8% faster
/// at 4,096 than at 1,024 (the matrix products run nearer peak), one long document no slower,
/// and peak memory stayed the same, because the output matrix runs a slice of rows at a time.
pub const DEFAULT_BATCH_TOKENS: usize = 4096;
/// Upper bounds of the window and batch settings (suites and command line): far above what
/// any model's context or memory allows, low enough that a typo is an error and not an
/// allocation of terabytes.
pub const MAX_BATCH_TOKENS: usize = 1 << 22;
pub const MAX_WINDOW: usize = 1 << 20;

impl Default for NeuralOptions {
    fn default() -> Self {
        NeuralOptions {
            device: DeviceChoice::Auto,
            dtype: Dtype::F32,
            max_length: None,
            stride: None,
            pll: PllVariant::Original,
            batch_tokens: DEFAULT_BATCH_TOKENS,
            compute: None,
            windows: Windows::Rolling,
        }
    }
}

/// Errors of neural models: each names the file or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum NeuralError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Options(String),
    #[error(
        "neural model kinds (causal, masked) are not enabled in this build: it was built without the `torch` feature (rebuild with default features and libtorch, see README)"
    )]
    NotEnabled,
    #[error("libtorch failed: {0}")]
    Torch(String),
    #[error(
        "internal error: this process is not linked to libtorch ({0}); lmgauge hands commands that load a neural model to lmgauge-torch, and this one was not recognised as one"
    )]
    NotLinked(String),
}

impl NeuralError {
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        NeuralError::File { path: path.to_owned(), message: message.into() }
    }
}

/// How this process loads neural models, set once by a binary linked to libtorch
/// ([`link_libtorch`]). The `lmgauge` launcher never sets it: it hands a command that loads a
/// neural model to `lmgauge-torch` before running it (see `cli::launch`), and only reaching this
/// unset is refused — a command that was not recognised as neural, a defect to report.
static LINKED: std::sync::OnceLock<LoadFn> = std::sync::OnceLock::new();

type LoadFn = fn(Family, &Path, &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError>;

/// Makes [`load_linked`] load in this process with libtorch ([`load`]): `lmgauge-torch` calls it
/// first thing. It is a separate call, not a default, so that the `lmgauge` launcher, which
/// never calls it, refers to no libtorch code and starts without loading libtorch's 0.5 GB of
/// shared libraries.
pub fn link_libtorch() {
    let _ = LINKED.set(load);
}

/// Loads a neural model the way this process can: in process when it is linked to libtorch
/// ([`link_libtorch`]); otherwise the build's own refusal (`NotEnabled` without the `torch`
/// feature), or `NotLinked`. The engine and the CLI load through this; libraries and tests that
/// link libtorch anyway call [`load`] directly.
pub fn load_linked(
    family: Family,
    path: &Path,
    options: &NeuralOptions,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    if runs_quantized(path, options) {
        // Not through `load`, which would link the launcher to libtorch.
        check_options(options)?;
        return load_quantized(family, path, options);
    }
    match LINKED.get() {
        Some(load) => load(family, path, options),
        None if !ENABLED => Err(NeuralError::NotEnabled),
        None => Err(NeuralError::NotLinked(format!("loading {} as a {} model", path.display(), family.name()))),
    }
}

/// Loads a model folder or GGUF file as a causal, masked or reward model, in this process.
pub fn load(family: Family, path: &Path, options: &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    check_options(options)?;
    if runs_quantized(path, options) {
        return load_quantized(family, path, options);
    }
    if options.compute == Some(Compute::Quantized) {
        return Err(NeuralError::file(
            path,
            "compute: quantized needs a GGUF file; a model folder runs in f32 through libtorch",
        ));
    }
    load_registered(family, path, options)
}

fn load_quantized(family: Family, path: &Path, options: &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    if family != Family::Causal {
        return Err(NeuralError::file(
            path,
            format!("a GGUF file holds a causal LM; it cannot be used as kind {}", family.name()),
        ));
    }
    quantized::load(path, options)
}

/// The window and batch settings every loader accepts.
fn check_options(options: &NeuralOptions) -> Result<(), NeuralError> {
    if !(1..=MAX_BATCH_TOKENS).contains(&options.batch_tokens) {
        return Err(NeuralError::Options(format!(
            "batch_tokens must be between 1 and {MAX_BATCH_TOKENS}, not {}",
            options.batch_tokens
        )));
    }
    for (name, v) in [("max_length", options.max_length), ("stride", options.stride)] {
        if v.is_some_and(|v| !(1..=MAX_WINDOW).contains(&v)) {
            return Err(NeuralError::Options(format!(
                "{name} must be between 1 and {MAX_WINDOW}, not {}",
                v.unwrap_or(0)
            )));
        }
    }
    Ok(())
}

/// Whether this model runs on lmgauge's quantized CPU engine (no libtorch): a GGUF file whose
/// options do not ask for f32.
pub fn runs_quantized(path: &Path, options: &NeuralOptions) -> bool {
    options.compute != Some(Compute::F32) && gguf::is_gguf(path)
}

/// A model file opened to read its architecture, handed on to the loader as it is.
#[cfg(feature = "torch")]
enum OpenedFile {
    Folder(hf::ModelFolder),
    Gguf(gguf::Gguf),
}

/// Looks the file's architecture up in the registry and loads it with the entry's loader.
#[cfg(feature = "torch")]
fn load_registered(
    family: Family,
    path: &Path,
    options: &NeuralOptions,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    use registry::Format;
    if gguf::is_gguf(path) {
        if family != Family::Causal {
            return Err(NeuralError::file(
                path,
                format!("a GGUF file holds a causal LM; it cannot be used as kind {}", family.name()),
            ));
        }
        let file = gguf::Gguf::open(path)?;
        let name = file.require("general.architecture")?.as_str().unwrap_or_default().to_owned();
        let arch = registry::find(Format::Gguf, family, &name).map_err(|e| NeuralError::file(path, e))?;
        return imp::load(registry::loader(arch), OpenedFile::Gguf(file), options);
    }
    let folder = hf::ModelFolder::open(path)?;
    let arch = registry::find(Format::HfFolder, family, &folder.model_type)
        .map_err(|e| NeuralError::file(&folder.config_path(), e))?;
    imp::load(registry::loader(arch), OpenedFile::Folder(folder), options)
}

#[cfg(not(feature = "torch"))]
fn load_registered(
    _family: Family,
    _path: &Path,
    _options: &NeuralOptions,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    Err(NeuralError::NotEnabled)
}

/// Number of CUDA devices libtorch sees (0 without the `torch` feature or without a GPU).
pub fn cuda_device_count() -> usize {
    imp::cuda_device_count()
}
