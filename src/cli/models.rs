//! `lmgauge models [PATH]`: what this build can load — model kinds and architectures, GGUF tensor
//! types and tokenizers — or, given a path, what a model file or folder holds (architecture,
//! shape, tensor types, tokenizer) without loading its weights.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};

use super::vocabulary::{JsonArg, print_json};
use crate::error::Error;
use crate::models::neural::Family;
use crate::models::neural::deberta_config::DebertaV2Config;
use crate::models::neural::decoders;
use crate::models::neural::gguf::{self, Gguf, SUPPORTED_TYPES};
use crate::models::neural::hf::ModelFolder;
use crate::models::neural::registry::{Format, names, support_table};
use crate::models::neural::{self, NeuralError};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// A GGUF file, Hugging Face model folder or ARPA file to describe.
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
    /// Print the support table (architectures × sources × features) as Markdown.
    #[arg(long, conflicts_with_all = ["path", "json"])]
    pub table: bool,
}

pub fn run(args: ModelsArgs) -> Result<i32, Error> {
    if args.table {
        print!("{}", support_table());
        return Ok(0);
    }
    let value = match &args.path {
        None => supported(),
        Some(path) => describe(path).map_err(|e| Error::Model(e.into()))?,
    };
    if args.json.json {
        print_json("models", value);
    } else {
        print_text(&value, 0);
    }
    Ok(0)
}

fn supported() -> Value {
    json!({
        "neural_enabled": neural::ENABLED,
        "kinds": {
            "ngram": "ARPA files (KenLM-compatible), or trained from text by lmgauge",
            "causal": format!("Hugging Face folders with model_type {}; GGUF files of architecture {}", names(Format::HfFolder, Family::Causal).join(", "), names(Format::Gguf, Family::Causal).join(", ")),
            "masked": format!("Hugging Face folders with model_type {}", names(Format::HfFolder, Family::Masked).join(", ")),
            "reward": format!("Hugging Face sequence-classification folders (one label) with model_type {}", names(Format::HfFolder, Family::Reward).join(", ")),
            "encoder": format!("Hugging Face folders with model_type {}, read through one layer's hidden states (BERTScore)", names(Format::HfFolder, Family::Encoder).join(", ")),
        },
        "gguf": {
            "versions": [2, 3],
            "architectures": names(Format::Gguf, Family::Causal),
            "tensor_types": SUPPORTED_TYPES.iter().map(|t| t.name()).collect::<Vec<_>>(),
            "tokenizers": format!("tokenizer.ggml.model gpt2 (byte-level BPE) with tokenizer.ggml.pre {}, or llama (SentencePiece)", gguf::tokenizer::SUPPORTED_PRE.join(", ")),
            // The default for GGUF files; other types and architectures run with compute: f32.
            "quantized_compute": {
                "architectures": neural::quantized::ARCHITECTURES,
                "tensor_types": neural::quantized::COMPUTE_TYPES.iter().map(|t| t.name()).collect::<Vec<_>>(),
            },
        },
        "weights": ["model.safetensors", "model.safetensors.index.json (sharded)", "pytorch_model.bin", "*.gguf"],
        "tokenizers": ["tokenizer.json", "vocab.json + merges.txt", "vocab.txt", "GGUF metadata"],
    })
}

fn describe(path: &std::path::Path) -> Result<Value, NeuralError> {
    if gguf::is_gguf(path) {
        let file = Gguf::open(path)?;
        let mut types: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        for t in &file.tensors {
            let e = types.entry(t.ggml_type.name()).or_default();
            e.0 += 1;
            e.1 += t.elements();
        }
        let metadata: BTreeMap<&str, String> = file
            .metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("tokenizer.chat_template"))
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        let loadable = decoders::from_gguf(&file).and_then(|_| gguf::tokenizer::from_gguf(&file).map(|_| ()));
        return Ok(json!({
            "path": path.display().to_string(),
            "format": format!("GGUF v{}", file.version),
            "loadable": loadable.as_ref().map(|_| "yes, as kind causal".to_string()).unwrap_or_else(|e| format!("no: {e}")),
            "tensors": file.tensors.len(),
            "parameters": file.tensors.iter().map(|t| t.elements()).sum::<u64>(),
            "tensor_types": types.iter().map(|(k, (n, e))| (k.to_string(), json!({"tensors": n, "values": e}))).collect::<serde_json::Map<_, _>>(),
            "metadata": metadata,
        }));
    }
    if path.is_dir() {
        let folder = ModelFolder::open(path)?;
        let kinds: Vec<&str> = [Family::Causal, Family::Masked, Family::Reward, Family::Encoder]
            .into_iter()
            .filter(|&f| names(Format::HfFolder, f).contains(&folder.model_type.as_str()))
            .map(Family::name)
            .collect();
        // The architectures this crate implements itself have their configuration checked here.
        let configuration = match folder.model_type.as_str() {
            "deberta-v2" => Some(DebertaV2Config::from_hf(&folder).map(|c| c.summary(0.0))),
            _ => decoders::read_hf(&folder).map(|r| r.map(|c| c.summary(0.0))),
        }
        // Parameters are counted when the weights load; the summary's last clause is dropped.
        .map(|r| {
            r.map(|s| s.rsplit_once(", ").map_or(s.clone(), |(shape, _)| shape.to_owned()))
                .unwrap_or_else(|e| format!("not loadable: {e}"))
        });
        let mut described = json!({
            "path": path.display().to_string(),
            "format": "Hugging Face model folder",
            "model_type": folder.model_type,
            "architectures": folder.architectures(),
            "usable_as": kinds,
            "weights": folder.weights.iter().map(|w| w.display().to_string()).collect::<Vec<_>>(),
        });
        if let (Some(c), Some(map)) = (configuration, described.as_object_mut()) {
            map.insert("configuration".into(), c.into());
        }
        return Ok(described);
    }
    if path.is_file() {
        return Ok(
            json!({"path": path.display().to_string(), "format": "not GGUF; lmgauge reads other files as ARPA n-gram models"}),
        );
    }
    Err(NeuralError::file(path, "no such file or folder"))
}

fn print_text(value: &Value, indent: usize) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) => {
                        println!("{pad}{k}:");
                        print_text(v, indent + 1);
                    }
                    Value::Array(items) => {
                        println!("{pad}{k}: {}", items.iter().map(plain).collect::<Vec<_>>().join(", "))
                    }
                    _ => println!("{pad}{k}: {}", plain(v)),
                }
            }
        }
        other => println!("{pad}{}", plain(other)),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
