//! Neural language models: Hugging Face model folders and GGUF files run on libtorch (rust-bert's
//! and lmgauge's own networks) — causal LMs scored token by token, masked LMs by
//! pseudo-log-likelihood, reward models — and GGUF files computed with their quantized weights by
//! lmgauge's plain-Rust engine ([`quantized`]), as llama.cpp computes them.
//!
//! The folder, tokenizer, window and scoring logic ([`hf`], [`windows`], [`scoring`]) and the
//! quantized engine are plain Rust and build always; the libtorch networks need the `torch`
//! feature. A build without it still parses suites that name neural models and says plainly that
//! they are "not enabled in this build" when asked to load one of those.

pub mod activation;
pub mod chat_source;
pub mod deberta_config;
pub mod decoders;
pub mod gguf;
pub mod hf;
mod options;
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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LanguageModel;
pub use options::*;

/// Whether this build can run neural models at all.
pub const ENABLED: bool = cfg!(feature = "torch");

/// Causal or masked: what a neural model's scores mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Causal,
    Masked,
    /// Sequence classification with one output: a reward for (prompt, response).
    Reward,
    /// A BERT-family encoder read through one layer's hidden states (BERTScore).
    Encoder,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Causal => "causal",
            Family::Masked => "masked",
            Family::Reward => "reward",
            Family::Encoder => "encoder",
        }
    }

    /// What a loaded model of this family can do, known before it loads.
    pub fn capabilities(self) -> &'static [super::Capability] {
        use super::Capability;
        match self {
            Family::Causal => &[Capability::ScoreTokens, Capability::Generate, Capability::NextTokenDistributions],
            Family::Masked => &[Capability::PseudoLogLikelihood],
            Family::Reward => &[Capability::Reward],
            Family::Encoder => &[Capability::TokenEmbeddings],
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
    let _ = RUNTIME.set(imp::torch_runtime);
}

/// What [`torch_runtime`] asks, set by [`link_libtorch`] for the same reason as [`LINKED`].
static RUNTIME: std::sync::OnceLock<fn() -> TorchRuntime> = std::sync::OnceLock::new();

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
    with_chat(quantized::load(path, options)?, path, options)
}

/// The model as a chat model when its options ask for one (`chat: true`): its chat template (or
/// the suite's file) renders every scored context and generation prompt.
fn with_chat(
    model: Arc<dyn LanguageModel>,
    path: &Path,
    options: &NeuralOptions,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let Some(chat) = &options.chat else { return Ok(model) };
    let template = chat_source::chat_model_template(path, chat.template.as_deref())
        .map_err(|e| NeuralError::Options(e.to_string()))?;
    Ok(Arc::new(crate::models::chat_model::ChatModel::new(model, template, chat.system.clone())))
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
        let name = file.require_str("general.architecture")?.to_owned();
        let arch = registry::find(Format::Gguf, family, &name).map_err(|e| NeuralError::file(path, e))?;
        return with_chat(imp::load(registry::loader(arch), OpenedFile::Gguf(file), options)?, path, options);
    }
    let folder = hf::ModelFolder::open(path)?;
    let arch = registry::find(Format::HfFolder, family, &folder.model_type)
        .map_err(|e| NeuralError::file(&folder.config_path(), e))?;
    with_chat(imp::load(registry::loader(arch), OpenedFile::Folder(folder), options)?, path, options)
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

/// What the linked libtorch can do, for `lmgauge env`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TorchRuntime {
    /// Whether this binary is linked to libtorch at all.
    pub linked: bool,
    pub cuda_available: bool,
    pub cuda_devices: usize,
    /// cuDNN's version number, when libtorch has it.
    pub cudnn: Option<i64>,
    pub mkl: bool,
    pub openmp: bool,
    /// Intra-op threads libtorch uses on the CPU.
    pub threads: i32,
}

/// In a process not linked to libtorch ([`link_libtorch`] not called), `linked: false` and no
/// devices.
pub fn torch_runtime() -> TorchRuntime {
    RUNTIME.get().map_or_else(TorchRuntime::default, |runtime| runtime())
}
