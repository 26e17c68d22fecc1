//! Builds with the `torch` feature: model folders loaded onto libtorch through rust-bert.

mod attention;
pub(super) mod bert;
mod causal;
mod deberta_v2;
mod decode;
pub(super) mod decoder;
pub(super) mod encoder;
pub(super) mod gpt2;
pub(super) mod gpt_neo;
pub(super) mod masked;
mod net;
pub(super) mod reward;
mod rope;
mod weights;

use std::sync::Arc;

use tch::{Cuda, Device, Kind};

use super::OpenedFile;
use super::activation::Activation;
use super::gguf::Gguf;
use super::hf::{ModelFolder, TextTokenizer};
use super::{DeviceChoice, Dtype, NeuralError, NeuralOptions};
use crate::models::LanguageModel;

/// The run's options and where the network runs: what every architecture's loader gets beside
/// the model file, which was opened once (its architecture was read from it to choose the loader).
pub struct Runtime<'a> {
    pub options: &'a NeuralOptions,
    pub device: Device,
    pub kind: Kind,
    /// Device and dtype, for the model's description.
    pub where_: String,
}

type Loaded = Result<Arc<dyn LanguageModel>, NeuralError>;

/// Loads one registered architecture (see [`super::registry`]); the variant is the format it
/// reads, so a folder loader can only ever be handed a folder.
#[derive(Debug, Clone, Copy)]
pub enum Loader {
    /// A Hugging Face folder, with its tokenizer already read.
    HfFolder(fn(ModelFolder, TextTokenizer, Runtime<'_>) -> Loaded),
    Gguf(fn(Gguf, Runtime<'_>) -> Loaded),
}

/// Loads with `loader`, the registry's entry for the architecture of the opened `file`.
pub fn load(loader: Loader, file: OpenedFile, options: &NeuralOptions) -> Loaded {
    keep_freed_memory();
    let device = resolve_device(options.device)?;
    let kind = resolve_kind(options.dtype, device)?;
    let where_ = format!("{} {}", device_name(device), options.dtype);
    // One libtorch pool per process; rayon's threads call in one at a time (models lock).
    let runtime = Runtime { options, device, kind, where_ };
    match (loader, file) {
        (Loader::HfFolder(load), OpenedFile::Folder(folder)) => {
            let tokenizer = TextTokenizer::load(&folder)?;
            load(folder, tokenizer, runtime)
        }
        (Loader::Gguf(load), OpenedFile::Gguf(file)) => load(file, runtime),
        // The registry is looked up by the opened file's format, so this is a registry defect.
        _ => Err(NeuralError::Options(
            "internal error: the registry paired a loader with a file of another format".into(),
        )),
    }
}

/// A folder's checkpoint, checked against its config.json before a network is built.
pub(super) fn checked_checkpoint(folder: &ModelFolder) -> Result<weights::Checkpoint, NeuralError> {
    let ckpt = weights::Checkpoint::read(&folder.weights)?;
    ckpt.check_config(folder)?;
    Ok(ckpt)
}

/// libtorch allocates and frees activation and logit tensors of tens to hundreds of MB on every
/// forward pass; glibc serves those with mmap and unmaps them on free, so each pass pays the page
/// faults again (a third of the wall time of GPT-2-small perplexity on a 2-core machine, measured).
/// Keeping freed memory in the heap removes that; peak memory stays what one pass needs.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator thresholds; it is called once, before the
            // model's tensors exist.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// A result tensor's values on the host as f32 (the one way scoring loops read results back).
fn host_f32(t: &tch::Tensor) -> Result<Vec<f32>, NeuralError> {
    Vec::<f32>::try_from(&t.to_kind(Kind::Float).to_device(Device::Cpu)).map_err(|e| NeuralError::Torch(e.to_string()))
}

/// Log-probability of each row's target under the softmax of its logits `[rows, vocab]`, in f32.
/// Through `log_softmax` and a gather, as lm-evaluation-harness computes it: libtorch's CPU
/// `logsumexp` over a 49k vocabulary is a chain of unfused passes, about 13× slower than the
/// fused, vectorised `log_softmax` (1.86 s against 0.14 s for one 2,048-row window here), which
/// was a third of a long document's scoring time.
fn target_logprobs(logits: &tch::Tensor, targets: &tch::Tensor) -> tch::Tensor {
    logits.to_kind(Kind::Float).log_softmax(1, Kind::Float).gather(1, &targets.view([-1, 1]), false).squeeze_dim(1)
}

/// An activation as transformers' `ACT2FN` computes it.
fn activate(x: &tch::Tensor, a: Activation) -> tch::Tensor {
    match a {
        Activation::Gelu => x.gelu("none"),
        Activation::GeluTanh => x.gelu("tanh"),
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
        Activation::Silu => x.silu(),
    }
}

pub fn cuda_device_count() -> usize {
    Cuda::device_count().max(0) as usize
}

pub fn torch_runtime() -> super::TorchRuntime {
    let cuda_available = Cuda::is_available();
    super::TorchRuntime {
        linked: true,
        cuda_available,
        cuda_devices: cuda_device_count(),
        cudnn: (cuda_available && Cuda::cudnn_is_available()).then(tch::utils::version_cudnn),
        mkl: tch::utils::has_mkl(),
        openmp: tch::utils::has_openmp(),
        threads: tch::utils::get_num_threads(),
    }
}

fn resolve_device(choice: DeviceChoice) -> Result<Device, NeuralError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda(n) => {
            let count = cuda_device_count();
            if n >= count {
                return Err(NeuralError::Options(if count == 0 {
                    format!(
                        "device cuda:{n} asked for, but libtorch sees no CUDA device (CPU libtorch, or no GPU; run scripts/setup-libtorch.sh --cuda on a GPU machine)"
                    )
                } else {
                    format!("device cuda:{n} asked for, but libtorch sees only {count} CUDA device(s)")
                }));
            }
            Ok(Device::Cuda(n))
        }
    }
}

fn resolve_kind(dtype: Dtype, device: Device) -> Result<Kind, NeuralError> {
    match (dtype, device) {
        (Dtype::F32, _) => Ok(Kind::Float),
        (Dtype::F16, Device::Cuda(_)) => Ok(Kind::Half),
        (Dtype::Bf16, Device::Cuda(_)) => Ok(Kind::BFloat16),
        (d, _) => Err(NeuralError::Options(format!("dtype {d} runs only on a CUDA device; on the CPU use f32"))),
    }
}

fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    }
}
