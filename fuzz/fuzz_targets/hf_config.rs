//! libFuzzer target: a Hugging Face `config.json` and a safetensors header, as a model folder
//! would give them: the safetensors reader (every offset checked), the config-against-checkpoint
//! checks that run before any network is built, and the decoder (by `model_type`: Llama, Qwen2,
//! Mistral, Gemma 2, Gemma 3, Phi-3) and DeBERTa-v2 config parsers.
//! Input: the config's bytes, a 0xFF separator, the safetensors bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::models::neural::deberta_config::DebertaV2Config;
use lmgauge::models::neural::hf::{self, ModelFolder};
use lmgauge::models::neural::decoders;

fuzz_target!(|data: &[u8]| {
    let (config, tensors) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(config) else {
        return;
    };
    let model_type = config
        .get("model_type")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let (mut elements, mut names) = (0i64, Vec::new());
    if let Ok(st) = safetensors::SafeTensors::deserialize(tensors) {
        for (name, view) in st.tensors() {
            let n = view
                .shape()
                .iter()
                .try_fold(1i64, |a, &d| a.checked_mul(d as i64));
            elements = elements.saturating_add(n.unwrap_or(i64::MAX));
            names.push(name);
        }
    }
    let layers = hf::stored_layers(names.iter().map(String::as_str));
    let _ = hf::check_config_sizes(&config, &model_type, elements, layers);
    let folder = ModelFolder {
        dir: "/nonexistent/fuzz".into(),
        config,
        model_type,
        weights: Vec::new(),
    };
    if let Some(Ok(c)) = decoders::read_hf(&folder) {
        let _ = c.summary(1.0);
    }
    let _ = DebertaV2Config::from_hf(&folder);
});
