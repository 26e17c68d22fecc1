//! Typed access to a Hugging Face `config.json` for the architecture readers beside this file:
//! counts, floats, flags, the activation and `rope_scaling`, every error naming the file and key.

use serde_json::Value;

use super::RopeScaling;
use crate::models::neural::NeuralError;
use crate::models::neural::activation::Activation;
use crate::models::neural::hf::ModelFolder;

/// Typed access to a config.json, every error naming the file and the key.
pub struct Keys<'a> {
    folder: &'a ModelFolder,
}

impl<'a> Keys<'a> {
    pub fn new(folder: &'a ModelFolder) -> Self {
        Keys { folder }
    }

    pub fn err(&self, message: String) -> NeuralError {
        NeuralError::file(&self.folder.config_path(), message)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.folder.config.get(key).filter(|v| !v.is_null())
    }

    pub fn count(&self, key: &str) -> Result<usize, NeuralError> {
        let v = self.folder.int(key)?;
        usize::try_from(v).map_err(|_| self.err(format!("\"{key}\" is {v}; it must not be negative")))
    }

    pub fn count_or(&self, key: &str, default: usize) -> Result<usize, NeuralError> {
        if self.get(key).is_some() { self.count(key) } else { Ok(default) }
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64, NeuralError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("\"{key}\" is {v}, not a number"))),
        }
    }

    pub fn opt_float(&self, key: &str) -> Result<Option<f64>, NeuralError> {
        self.get(key).map(|_| self.float_or(key, 0.0)).transpose()
    }

    pub fn flag(&self, key: &str, default: bool) -> Result<bool, NeuralError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(format!("\"{key}\" is {v}, not true or false"))),
        }
    }

    /// An optional string (absent or null: `None`); any other type is an error naming the key,
    /// never read as absent.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, NeuralError> {
        self.folder.typed(key, Value::as_str, "a string")
    }

    /// `hidden_act` (or `key`), one of `allowed`.
    pub fn activation(&self, key: &str, default: &str, allowed: &[&str]) -> Result<Activation, NeuralError> {
        let name = self.opt_str(key)?.unwrap_or(default);
        if !allowed.contains(&name) {
            return Err(self.err(format!("{key} {name:?} is not supported (supported: {})", allowed.join(", "))));
        }
        Activation::parse(name).ok_or_else(|| self.err(format!("{key} {name:?} is not supported")))
    }

    /// `rope_scaling`, of one of the `allowed` types (its `rope_type`, or the older `type`).
    pub fn rope_scaling(&self, allowed: &[&str], context: usize, head_dim: usize) -> Result<RopeScaling, NeuralError> {
        let Some(scaling) = self.get("rope_scaling") else { return Ok(RopeScaling::None) };
        if !scaling.is_object() {
            return Err(self.err(format!("rope_scaling is {scaling}; it must be an object")));
        }
        // A key of the wrong type is an error, never taken for absent.
        let field = |k: &str| scaling.get(k).filter(|v| !v.is_null());
        let kind = match field("rope_type").or_else(|| field("type")) {
            None => "",
            Some(v) => {
                v.as_str().ok_or_else(|| self.err(format!("rope_scaling's type is {v}; it must be a string")))?
            }
        };
        if kind != "default" && !allowed.contains(&kind) {
            return Err(self.err(format!(
                "rope_scaling type {kind:?} is not supported for {} (supported: {})",
                self.folder.model_type,
                allowed.join(", ")
            )));
        }
        let num = |k: &str, default: Option<f64>| -> Result<f64, NeuralError> {
            let given = match field(k) {
                None => None,
                Some(v) => {
                    Some(v.as_f64().ok_or_else(|| self.err(format!("rope_scaling.{k} is {v}; it must be a number")))?)
                }
            };
            match given.or(default) {
                Some(v) if v.is_finite() && v > 0.0 => Ok(v),
                Some(v) => Err(self.err(format!("rope_scaling.{k} is {v}; it must be a positive number"))),
                None => Err(self.err(format!("rope_scaling.{k} is missing (rope type {kind:?} needs it)"))),
            }
        };
        let original = |default: Option<usize>| -> Result<usize, NeuralError> {
            let given = match field("original_max_position_embeddings") {
                None => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    self.err(format!("rope_scaling.original_max_position_embeddings is {v}; it must be a count"))
                })? as usize),
            };
            let v = given
                .or(default)
                .ok_or_else(|| self.err("rope_scaling.original_max_position_embeddings is missing".into()))?;
            if v == 0 || v > context {
                return Err(self.err(format!(
                    "original_max_position_embeddings {v} must be between 1 and max_position_embeddings {context}"
                )));
            }
            Ok(v)
        };
        Ok(match kind {
            "default" => RopeScaling::None,
            "linear" => RopeScaling::Linear { factor: num("factor", None)? },
            "dynamic" => RopeScaling::Dynamic { factor: num("factor", None)? },
            "llama3" => {
                let (low, high) = (num("low_freq_factor", None)?, num("high_freq_factor", None)?);
                if high <= low {
                    return Err(
                        self.err(format!("rope_scaling.high_freq_factor {high} must exceed low_freq_factor {low}"))
                    );
                }
                RopeScaling::Llama3 {
                    factor: num("factor", None)?,
                    low_freq_factor: low,
                    high_freq_factor: high,
                    original_context: original(None)?,
                }
            }
            "longrope" | "su" => {
                let list = |k: &str| -> Result<Vec<f64>, NeuralError> {
                    let values: Option<Vec<f64>> =
                        scaling.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect());
                    match values {
                        Some(v) if v.len() == head_dim / 2 && v.iter().all(|f| f.is_finite() && *f > 0.0) => Ok(v),
                        _ => Err(self.err(format!(
                            "rope_scaling.{k} must be {} positive numbers (one per rotary frequency)",
                            head_dim / 2
                        ))),
                    }
                };
                let original_key =
                    self.get("original_max_position_embeddings").and_then(Value::as_u64).map(|v| v as usize);
                RopeScaling::LongRope {
                    short: list("short_factor")?,
                    long: list("long_factor")?,
                    original_context: original(original_key)?,
                }
            }
            other => return Err(self.err(format!("rope_scaling type {other:?} is not supported"))),
        })
    }
}
