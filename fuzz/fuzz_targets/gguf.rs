//! libFuzzer target: arbitrary bytes through the GGUF reader and, when they parse, through the
//! dequantization of every tensor and the Llama config and tokenizer built from the metadata.
//! Any panic, overflow or allocation the input cannot back is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::models::neural::gguf::{tokenizer, Gguf};
use lmgauge::models::neural::llama_config::LlamaConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = Gguf::from_bytes(std::path::Path::new("fuzz.gguf"), data.to_vec()) {
        for t in &file.tensors {
            let _ = file.dequantize(t);
        }
        let _ = LlamaConfig::from_gguf(&file);
        if let Ok(tok) = tokenizer::from_gguf(&file) {
            let _ = tok.encode("Fuzzed text, 123 tokens.");
        }
    }
});
