//! libFuzzer target: arbitrary bytes through the GGUF reader and, when they parse, through the
//! dequantization of every tensor and the decoder config (Llama, Qwen2, Gemma 2, Gemma 3) and
//! tokenizer (byte-level BPE or SentencePiece) built from the metadata.
//! Any panic, overflow or allocation the input cannot back is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmgauge::models::neural::gguf::{tokenizer, Gguf};
use lmgauge::models::neural::decoders;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = Gguf::from_bytes(std::path::Path::new("fuzz.gguf"), data.to_vec()) {
        for t in &file.tensors {
            let _ = file.dequantize(t);
        }
        let _ = decoders::from_gguf(&file);
        if let Ok(tok) = tokenizer::from_gguf(&file) {
            if let Ok(enc) = tok.encode("Fuzzed text, 123 tokens.\n\n  <b>x</b> 🙂") {
                let ids: Vec<u32> = enc.ids.iter().map(|&i| i as u32).collect();
                let _ = tok.decode(&ids);
            }
        }
    }
});
