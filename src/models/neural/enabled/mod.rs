//! Builds with the `torch` feature: model folders loaded onto libtorch through rust-bert.

mod attention;
mod bert;
mod causal;
mod deberta_v2;
mod decode;
mod gpt2;
mod gpt_neo;
mod llama;
mod masked;
mod net;
mod reward;
mod weights;

use std::path::Path;
use std::sync::Arc;

use tch::{Cuda, Device, Kind};

use super::activation::Activation;
use super::gguf::{Gguf, is_gguf};
use super::hf::{CAUSAL_TYPES, MASKED_TYPES, ModelFolder, REWARD_TYPES, TextTokenizer};
use super::llama_config::LlamaConfig;
use super::{DeviceChoice, Dtype, Family, NeuralError, NeuralOptions};
use crate::models::LanguageModel;

pub fn load(family: Family, path: &Path, options: &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    keep_freed_memory();
    if is_gguf(path) {
        if family != Family::Causal {
            return Err(NeuralError::file(
                path,
                format!("a GGUF file holds a causal LM; it cannot be used as kind {}", family.name()),
            ));
        }
        let device = resolve_device(options.device)?;
        let kind = resolve_kind(options.dtype, device)?;
        let file = Gguf::open(path)?;
        // The configuration and tokenizer are checked before any tensor is dequantized.
        let config = LlamaConfig::from_gguf(&file)?;
        let tokenizer = crate::models::neural::gguf::tokenizer::from_gguf(&file)?;
        let net = llama::Llama::load_gguf(&file, config, device, kind)?;
        let where_ = format!("{} {}", device_name(device), options.dtype);
        return Ok(Arc::new(causal::CausalModel::new(Box::new(net), tokenizer, options, device, where_)?));
    }
    let folder = ModelFolder::open(path)?;
    let supported = match family {
        Family::Causal => CAUSAL_TYPES,
        Family::Masked => MASKED_TYPES,
        Family::Reward => REWARD_TYPES,
    };
    if !supported.contains(&folder.model_type.as_str()) && family != Family::Reward {
        let other = if family == Family::Causal { MASKED_TYPES } else { CAUSAL_TYPES };
        let hint = if other.contains(&folder.model_type.as_str()) {
            format!(
                " (it is a {} model: use kind {})",
                if family == Family::Causal { "masked" } else { "causal" },
                if family == Family::Causal { "masked" } else { "causal" }
            )
        } else {
            String::new()
        };
        return Err(NeuralError::file(
            &folder.config_path(),
            format!(
                "model_type {:?} is not a supported {} architecture (supported: {}){hint}",
                folder.model_type,
                family.name(),
                supported.join(", ")
            ),
        ));
    }
    if family == Family::Reward && !supported.contains(&folder.model_type.as_str()) {
        return Err(NeuralError::file(
            &folder.config_path(),
            format!(
                "model_type {:?} is not a supported reward architecture (supported: {})",
                folder.model_type,
                supported.join(", ")
            ),
        ));
    }
    let device = resolve_device(options.device)?;
    let kind = resolve_kind(options.dtype, device)?;
    let tokenizer = TextTokenizer::load(&folder)?;
    let where_ = format!("{} {}", device_name(device), options.dtype);
    // One libtorch pool per process; rayon's threads call in one at a time (models lock).
    Ok(match family {
        Family::Causal => {
            let net: Box<dyn net::CausalNet> = match folder.model_type.as_str() {
                "llama" => Box::new(llama::Llama::load_hf(
                    LlamaConfig::from_hf(&folder)?,
                    checked_checkpoint(&folder)?,
                    device,
                    kind,
                )?),
                "gpt_neo" => {
                    Box::new(gpt_neo::GptNeo::load(&folder, weights::Checkpoint::read(&folder.weights)?, device, kind)?)
                }
                _ => Box::new(gpt2::Gpt2::load(&folder, device, kind)?),
            };
            Arc::new(causal::CausalModel::new(net, tokenizer, options, device, where_)?)
        }
        Family::Masked => Arc::new(masked::MaskedModel::new(
            bert::MaskedNet::load(&folder, device, kind)?,
            tokenizer,
            options,
            device,
            where_,
        )?),
        Family::Reward => Arc::new(reward::RewardModel::load(&folder, tokenizer, options, device, kind, where_)?),
    })
}

/// A folder's checkpoint, checked against its config.json before a network is built.
fn checked_checkpoint(folder: &ModelFolder) -> Result<weights::Checkpoint, NeuralError> {
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
