//! How a neural model is run and read: device, precision, compute of GGUF files, window policy,
//! pseudo-log-likelihood variant and batch size, each with the default a user of the reference
//! tools would expect, parsed from the names suites and the command line use.

use std::fmt;
use std::str::FromStr;

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
    /// Encoders: the layer whose hidden states are read, 1 = the first transformer layer
    /// (absent: the last).
    pub layer: Option<usize>,
    /// Causal models used as chat models: contexts and prompts rendered by the chat template.
    pub chat: Option<ChatOptions>,
    /// Encoders: BERTScore weighs tokens by their inverse document frequency in the references.
    pub idf: bool,
}

/// How a chat model's conversations are rendered (`chat: true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatOptions {
    /// A template file used instead of the model's own (`chat_template:`).
    pub template: Option<std::path::PathBuf>,
    /// The system turn before every user turn (`system:`).
    pub system: Option<String>,
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
            layer: None,
            idf: false,
            chat: None,
        }
    }
}
