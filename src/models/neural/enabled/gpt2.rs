//! GPT-2 (`model_type: gpt2`) on rust-bert: config from config.json, load, forward to logits.
//!
//! rust-bert's `Gpt2Config` needs `n_ctx` and `afn`, which current config.json files spell
//! `n_positions` and `activation_function`; Hugging Face checkpoints may lack the `transformer.`
//! prefix, store `lm_head.weight` (tied to `wte`) and the attention mask buffers, all of which
//! are mapped or dropped here. rust-bert keeps its own causal mask when the file has none.
//!
//! rust-bert builds the variable store (its names and shapes are what checkpoints load into); the
//! forward pass reads the same variables but runs attention as PyTorch's fused
//! scaled-dot-product attention, as transformers does, instead of rust-bert's explicit masked
//! matmuls — the difference between 0.95× and parity-or-better speed on a CPU.

use std::sync::Arc;

use rust_bert::gpt2::{GPT2LMHeadModel, Gpt2Config};
use serde_json::Value;
use tch::{Device, Kind, Tensor, nn::VarStore};

use super::Runtime;
use super::attention::{Attend, attention};
use super::causal::CausalModel;
use super::net::{KvCache, causal_net};
use super::weights::Checkpoint;
use crate::models::LanguageModel;
use crate::models::neural::NeuralError;
use crate::models::neural::hf::{ModelFolder, TextTokenizer};

struct Block {
    ln1: (Tensor, Tensor),
    attn: (Tensor, Tensor),
    attn_proj: (Tensor, Tensor),
    ln2: (Tensor, Tensor),
    fc: (Tensor, Tensor),
    fc_proj: (Tensor, Tensor),
}

struct Fused {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: (Tensor, Tensor),
    heads: i64,
    eps: f64,
    gelu: &'static str,
}

pub struct Gpt2 {
    fused: Fused,
    /// rust-bert's GPT-2 names and shapes the variables the checkpoint loads into; the forward
    /// pass is [`Gpt2::forward`] over those variables.
    _model: GPT2LMHeadModel,
    _vs: VarStore,
    pub context: usize,
    pub vocab: usize,
    pub summary: String,
}

impl Gpt2 {
    pub fn load(folder: &ModelFolder, device: Device, kind: Kind) -> Result<Self, NeuralError> {
        let mut ckpt = Checkpoint::read(&folder.weights)?;
        ckpt.check_config(folder)?;
        let config = config(folder)?;
        let mut vs = VarStore::new(Device::Cpu);
        let model = GPT2LMHeadModel::new(vs.root(), &config);
        ckpt.rename(|name| {
            if name == "lm_head.weight"
                || name.ends_with(".attn.masked_bias")
                || name.ends_with(".attn.bias") && !name.contains("c_attn")
            {
                return None;
            }
            Some(if name.starts_with("transformer.") { name.to_owned() } else { format!("transformer.{name}") })
        });
        ckpt.assign(&vs, |name| name.ends_with(".attn.bias"))?;
        vs.set_kind(kind);
        vs.set_device(device);
        let params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        let summary = format!(
            "GPT-2 causal LM: {} layers, d={}, {} heads, context {}, vocab {}, {:.1}M parameters",
            config.n_layer,
            config.n_embd,
            config.n_head,
            config.n_positions,
            config.vocab_size,
            params as f64 / 1e6
        );
        let vars = vs.variables();
        let get = |name: String| {
            vars.get(&name)
                .map(Tensor::shallow_clone)
                .ok_or_else(|| NeuralError::Torch(format!("variable {name} missing from rust-bert's GPT-2")))
        };
        let pair = |prefix: String| -> Result<(Tensor, Tensor), NeuralError> {
            Ok((get(format!("{prefix}.weight"))?, get(format!("{prefix}.bias"))?))
        };
        let blocks = (0..config.n_layer)
            .map(|i| {
                let p = format!("transformer.h.{i}");
                Ok(Block {
                    ln1: pair(format!("{p}.ln_1"))?,
                    attn: pair(format!("{p}.attn.c_attn"))?,
                    attn_proj: pair(format!("{p}.attn.c_proj"))?,
                    ln2: pair(format!("{p}.ln_2"))?,
                    fc: pair(format!("{p}.mlp.c_fc"))?,
                    fc_proj: pair(format!("{p}.mlp.c_proj"))?,
                })
            })
            .collect::<Result<Vec<_>, NeuralError>>()?;
        let gelu = match config.afn {
            Some(rust_bert::Activation::gelu) => "none",
            _ => "tanh",
        };
        if !matches!(config.afn, None | Some(rust_bert::Activation::gelu_new) | Some(rust_bert::Activation::gelu)) {
            return Err(NeuralError::file(&folder.config_path(), "activation_function must be gelu_new or gelu"));
        }
        let fused = Fused {
            wte: get("transformer.wte.weight".into())?,
            wpe: get("transformer.wpe.weight".into())?,
            blocks,
            ln_f: pair("transformer.ln_f".into())?,
            heads: config.n_head,
            eps: config.layer_norm_epsilon,
            gelu,
        };
        Ok(Gpt2 {
            fused,
            _model: model,
            _vs: vs,
            context: config.n_positions as usize,
            vocab: config.vocab_size as usize,
            summary,
        })
    }

    /// Final hidden states `[batch, seq, d]` of `input` `[batch, seq]` at `positions`
    /// (broadcastable to the input), attending as `attend` says; `cache` holds earlier keys and
    /// values and grows by these positions.
    pub fn forward(
        &self,
        input: &Tensor,
        positions: &Tensor,
        attend: &Attend,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor, NeuralError> {
        let f = &self.fused;
        let (b, t) = input.size2().map_err(|e| NeuralError::Torch(e.to_string()))?;
        let d = f.wte.size()[1];
        let hd = d / f.heads;
        let norm = |x: &Tensor, (w, bias): &(Tensor, Tensor)| x.layer_norm([d], Some(w), Some(bias), f.eps, false);
        // Conv1D: weight [in, out], bias added inside the matrix product as transformers' addmm.
        let conv = |x: &Tensor, (w, bias): &(Tensor, Tensor)| {
            let mut shape = x.size();
            let out = w.size()[1];
            *shape.last_mut().expect("3-d activations") = out;
            bias.addmm(&x.view([-1, x.size()[2]]), w).view(shape.as_slice())
        };
        let mut h =
            Tensor::embedding(&f.wte, input, -1, false, false) + Tensor::embedding(&f.wpe, positions, -1, false, false);
        for (i, blk) in f.blocks.iter().enumerate() {
            let qkv = conv(&norm(&h, &blk.ln1), &blk.attn);
            let parts = qkv.split(d, 2);
            let heads = |x: &Tensor| x.view([b, t, f.heads, hd]).transpose(1, 2);
            let (mut k, mut v) = (heads(&parts[1]), heads(&parts[2]));
            if let Some(cache) = cache.as_deref_mut() {
                (k, v) = cache.extend(i, k, v);
            }
            let a = attention(&heads(&parts[0]), &k, &v, attend)?;
            let a = a.transpose(1, 2).contiguous().view([b, t, d]);
            h = h + conv(&a, &blk.attn_proj);
            let m = conv(&norm(&h, &blk.ln2), &blk.fc).gelu(f.gelu);
            h = h + conv(&m, &blk.fc_proj);
        }
        if let Some(cache) = cache {
            cache.len += t as usize;
        }
        Ok(norm(&h, &f.ln_f))
    }

    /// Logits of selected final hidden states `[n, d]` → `[n, vocab]` (the output is tied to wte).
    pub fn head(&self, hidden: &Tensor) -> Tensor {
        hidden.matmul(&self.fused.wte.tr())
    }
}

/// rust-bert's config from config.json, with the keys it names differently patched in.
fn config(folder: &ModelFolder) -> Result<Gpt2Config, NeuralError> {
    let mut v = folder.config.clone();
    let obj =
        v.as_object_mut().ok_or_else(|| NeuralError::file(&folder.config_path(), "config.json is not an object"))?;
    for key in ["n_positions", "n_embd", "n_layer", "n_head", "vocab_size"] {
        folder.int(key)?;
    }
    if !obj.contains_key("n_ctx") {
        obj.insert("n_ctx".into(), obj["n_positions"].clone());
    }
    let afn = obj.get("activation_function").and_then(Value::as_str).unwrap_or("gelu_new").to_owned();
    if !["gelu_new", "gelu", "relu", "swish", "tanh"].contains(&afn.as_str()) {
        return Err(NeuralError::file(&folder.config_path(), format!("activation_function {afn:?} is not supported")));
    }
    obj.insert("afn".into(), Value::String(afn));
    obj.insert("output_past".into(), Value::Bool(false));
    obj.entry("layer_norm_epsilon").or_insert(Value::from(1e-5));
    obj.entry("initializer_range").or_insert(Value::from(0.02));
    let n_embd = folder.int("n_embd")?;
    let n_head = folder.int("n_head")?;
    if n_head <= 0 || n_embd % n_head != 0 {
        return Err(NeuralError::file(
            &folder.config_path(),
            format!("n_embd {n_embd} is not a multiple of n_head {n_head}"),
        ));
    }
    if obj.get("n_inner").is_some_and(|v| !v.is_null()) {
        return Err(NeuralError::file(
            &folder.config_path(),
            "n_inner other than null (4·n_embd) is not supported by rust-bert's GPT-2",
        ));
    }
    if obj.get("scale_attn_by_inverse_layer_idx").and_then(Value::as_bool) == Some(true)
        || obj.get("reorder_and_upcast_attn").and_then(Value::as_bool) == Some(true)
    {
        return Err(NeuralError::file(
            &folder.config_path(),
            "scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported",
        ));
    }
    serde_json::from_value(v).map_err(|e| NeuralError::file(&folder.config_path(), format!("not a GPT-2 config: {e}")))
}

causal_net!(Gpt2);

/// The registry's loader for `model_type: gpt2`.
pub fn load(
    folder: ModelFolder,
    tokenizer: TextTokenizer,
    t: Runtime<'_>,
) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    let net = Gpt2::load(&folder, t.device, t.kind)?;
    Ok(Arc::new(CausalModel::new(Box::new(net), tokenizer, t.options, t.device, t.where_)?))
}
