//! Checkpoint tensors into a rust-bert variable store: read (safetensors, validated before any
//! tensor is built, or PyTorch's pickle `.bin` through libtorch), rename to rust-bert's paths,
//! check every shape, copy. `VarStore::load` cannot do this: Hugging Face names differ from
//! rust-bert's, tied weights are stored once, and a wrong shape must be an error, not a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype as StDtype, SafeTensors};
use tch::{Device, Kind, Tensor, nn::VarStore};

use crate::models::neural::NeuralError;
use crate::models::neural::hf::{self, ModelFolder};

/// Named tensors of a checkpoint, with the file each came from.
pub struct Checkpoint {
    pub tensors: HashMap<String, Tensor>,
    pub files: Vec<PathBuf>,
}

impl Checkpoint {
    pub fn read(files: &[PathBuf]) -> Result<Self, NeuralError> {
        let mut tensors = HashMap::new();
        for file in files {
            let named = if file.extension().is_some_and(|e| e == "safetensors") {
                read_safetensors(file)?
            } else {
                check_torch_zip(file)?;
                Tensor::loadz_multi_with_device(file, Device::Cpu).map_err(|e| {
                    NeuralError::file(file, format!("cannot read PyTorch checkpoint: {}", first_line(&e.to_string())))
                })?
            };
            for (name, t) in named {
                tensors.insert(name, t);
            }
        }
        Ok(Checkpoint { tensors, files: files.to_vec() })
    }

    fn describe_files(&self) -> String {
        self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    }

    /// Renames every tensor (`None` drops it); later names win when two map to one.
    pub fn rename(&mut self, f: impl Fn(&str) -> Option<String>) {
        let mut old: Vec<(String, Tensor)> = std::mem::take(&mut self.tensors).into_iter().collect();
        old.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in old {
            if let Some(new) = f(&name) {
                self.tensors.insert(new, t);
            }
        }
    }

    /// Supplies `to` from `from` when the checkpoint stored a tied weight once.
    pub fn tie(&mut self, to: &str, from: &str) {
        if !self.tensors.contains_key(to)
            && let Some(t) = self.tensors.get(from)
        {
            let t = t.shallow_clone();
            self.tensors.insert(to.to_owned(), t);
        }
    }

    /// Refuses a `config.json` the checkpoint cannot back, before any network is built from it:
    /// every size a count (a positive integer), none larger than the checkpoint's parameters
    /// could hold, and a layer count equal to the layers the checkpoint stores. Without this, a
    /// hand-edited config builds an absurdly large network, or a smaller one that silently
    /// ignores some layers and gives another perplexity.
    pub fn check_config(&self, folder: &ModelFolder) -> Result<(), NeuralError> {
        let elements: i64 = self.tensors.values().map(Tensor::numel).map(|n| n as i64).sum();
        let ckpt_layers = hf::stored_layers(self.tensors.keys().map(String::as_str));
        hf::check_config_sizes(&folder.config, &folder.model_type, elements, ckpt_layers)
            .map_err(|m| NeuralError::file(&folder.config_path(), m))
    }

    /// Copies every variable of `vs` from the checkpoint; `optional` names may be absent (the
    /// store keeps its own value, e.g. GPT-2's causal mask). Every checkpoint tensor must be
    /// used: one the network has no place for means the configuration describes another model.
    pub fn assign(&self, vs: &VarStore, optional: impl Fn(&str) -> bool) -> Result<(), NeuralError> {
        let mut names: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let wanted: std::collections::HashSet<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        let mut unused: Vec<&str> =
            self.tensors.keys().map(String::as_str).filter(|n| !wanted.contains(n) && !is_buffer(n)).collect();
        if !unused.is_empty() {
            unused.sort_unstable();
            return Err(unused_error(self.files.first().cloned().unwrap_or_default(), &unused));
        }
        for (name, mut var) in names {
            let Some(src) = self.tensors.get(&name) else {
                if optional(&name) {
                    continue;
                }
                return Err(NeuralError::File {
                    path: self.files.first().cloned().unwrap_or_default(),
                    message: format!("missing tensor {name:?} (looked in {})", self.describe_files()),
                });
            };
            if src.size() != var.size() {
                return Err(NeuralError::File {
                    path: self.files.first().cloned().unwrap_or_default(),
                    message: format!(
                        "tensor {name:?} has shape {:?} but config.json implies {:?}",
                        src.size(),
                        var.size()
                    ),
                });
            }
            tch::no_grad(|| var.f_copy_(&src.to_kind(var.kind())))
                .map_err(|e| NeuralError::Torch(format!("copying {name}: {e}")))?;
        }
        Ok(())
    }
}

/// Takes named tensors out of a checkpoint one by one for a network built by hand (Llama,
/// DeBERTa-v2, GPT-Neo), checking each shape against the configuration and counting parameters.
pub struct Loader {
    pub ckpt: Checkpoint,
    path: PathBuf,
    pub params: i64,
    device: Device,
    kind: Kind,
}

impl Loader {
    pub fn new(ckpt: Checkpoint, device: Device, kind: Kind) -> Self {
        Loader { path: ckpt.files.first().cloned().unwrap_or_default(), ckpt, params: 0, device, kind }
    }

    pub fn take(&mut self, name: &str, shape: &[i64]) -> Result<Tensor, NeuralError> {
        let t = self
            .ckpt
            .tensors
            .remove(name)
            .ok_or_else(|| NeuralError::file(&self.path, format!("missing tensor {name:?}")))?;
        if t.size() != shape {
            return Err(NeuralError::file(
                &self.path,
                format!("tensor {name:?} has shape {:?} but the configuration implies {shape:?}", t.size()),
            ));
        }
        self.params += t.numel() as i64;
        Ok(t.to_device(self.device).to_kind(self.kind))
    }

    /// `{name}.weight` and `{name}.bias`.
    pub fn pair(&mut self, name: &str, weight: &[i64], bias: &[i64]) -> Result<(Tensor, Tensor), NeuralError> {
        Ok((self.take(&format!("{name}.weight"), weight)?, self.take(&format!("{name}.bias"), bias)?))
    }

    /// Ends a load: every tensor of the checkpoint must have been taken (buffers and names
    /// `ignore` accepts aside), or the configuration describes another model than the file.
    pub fn finish(&self, ignore: impl Fn(&str) -> bool) -> Result<(), NeuralError> {
        let mut unused: Vec<&str> =
            self.ckpt.tensors.keys().map(String::as_str).filter(|n| !is_buffer(n) && !ignore(n)).collect();
        if unused.is_empty() {
            return Ok(());
        }
        unused.sort_unstable();
        Err(unused_error(self.path.clone(), &unused))
    }
}

/// Non-parameter tensors that checkpoints of some transformers versions carry: position-id
/// ranges, causal-mask buffers and rotary frequency tables, all recomputed by the network.
fn is_buffer(name: &str) -> bool {
    name.ends_with("position_ids")
        || name.ends_with("inv_freq")
        || name.ends_with("masked_bias")
        || (name.ends_with(".attn.bias") && !name.contains("c_attn"))
        || name.ends_with(".attention.bias")
}

fn unused_error(path: PathBuf, unused: &[&str]) -> NeuralError {
    let shown: Vec<&str> = unused.iter().take(5).copied().collect();
    let more =
        if unused.len() > shown.len() { format!(" and {} more", unused.len() - shown.len()) } else { String::new() };
    NeuralError::file(
        &path,
        format!(
            "{} checkpoint tensor(s) have no place in the network config.json describes ({}{more}): the configuration and the checkpoint disagree",
            unused.len(),
            shown.join(", ")
        ),
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// libtorch's unpickler crashes the process on a truncated or corrupt archive, so a `.bin` is
/// checked first: a zip (the format of `torch.save` since PyTorch 1.6) whose every entry reads to
/// the end with a matching CRC and which holds a `data.pkl`. Legacy (pre-1.6) tar/pickle files are
/// refused with a message instead of being handed to libtorch.
fn check_torch_zip(path: &Path) -> Result<(), NeuralError> {
    let file = std::fs::File::open(path).map_err(|e| NeuralError::file(path, e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        NeuralError::file(
            path,
            format!(
                "not a PyTorch zip checkpoint ({e}); truncated, or saved by PyTorch < 1.6: convert it to safetensors"
            ),
        )
    })?;
    let mut has_pickle = false;
    for i in 0..zip.len() {
        let mut entry =
            zip.by_index(i).map_err(|e| NeuralError::file(path, format!("corrupt checkpoint entry {i}: {e}")))?;
        has_pickle |= entry.name().ends_with("/data.pkl") || entry.name() == "data.pkl";
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| NeuralError::file(path, format!("corrupt checkpoint entry {i}: {e}")))?;
    }
    if !has_pickle {
        return Err(NeuralError::file(path, "not a PyTorch checkpoint: the archive holds no data.pkl"));
    }
    Ok(())
}

/// Reads a safetensors file through the `safetensors` crate, which checks the header, every
/// offset and every size against the file before a tensor is built.
fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>, NeuralError> {
    let file = std::fs::File::open(path).map_err(|e| NeuralError::file(path, e.to_string()))?;
    // Read-only and alive only inside this function; a file shrunk while it is read is a clear
    // error (`mapped`), not a SIGBUS.
    let map =
        crate::models::mapped::Mapped::open(&file, path, false).map_err(|e| NeuralError::file(path, e.to_string()))?;
    let st = SafeTensors::deserialize(&map)
        .map_err(|e| NeuralError::file(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            StDtype::F32 => Kind::Float,
            StDtype::F16 => Kind::Half,
            StDtype::BF16 => Kind::BFloat16,
            StDtype::F64 => Kind::Double,
            StDtype::I64 => Kind::Int64,
            StDtype::I32 => Kind::Int,
            StDtype::I8 => Kind::Int8,
            StDtype::U8 => Kind::Uint8,
            StDtype::BOOL => Kind::Bool,
            other => return Err(NeuralError::file(path, format!("tensor {name:?} has unsupported dtype {other:?}"))),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, kind)
            .map_err(|e| NeuralError::file(path, format!("tensor {name:?}: {e}")))?;
        out.push((name, t));
    }
    Ok(out)
}
