//! libFuzzer target: the GGUF keys the decoder configurations and tokenizers read, with values
//! of every type. The input picks keys of the tiny Llama fixture (or new ones from a list of
//! the keys lmgauge reads) and gives each a fuzzed type and value; the file is written again
//! with that metadata and read as a decoder configuration and a tokenizer. Any panic is a bug,
//! and a configuration that is accepted must pass its own range check (a wrong-typed key is an
//! error, never a default).
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lmgauge::models::neural::decoders;
use lmgauge::models::neural::gguf::{tokenizer, write, Gguf, MetaArray, MetaValue};

const KEYS: &[&str] = &[
    "general.architecture",
    "general.alignment",
    "llama.block_count",
    "llama.embedding_length",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.key_length",
    "llama.attention.value_length",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.rope.freq_base",
    "llama.rope.dimension_count",
    "llama.rope.scaling.type",
    "llama.rope.scaling.factor",
    "llama.context_length",
    "llama.vocab_size",
    "gemma3.attention.sliding_window",
    "gemma3.attention.sliding_window_pattern",
    "gemma2.attn_logit_softcapping",
    "gemma2.final_logit_softcapping",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_space_prefix",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",
];

fn base() -> &'static Gguf {
    static BASE: OnceLock<Gguf> = OnceLock::new();
    BASE.get_or_init(|| {
        let bytes = include_bytes!("../../tests/fixtures/gguf/tiny-llama.gguf").to_vec();
        Gguf::from_bytes(std::path::Path::new("tiny-llama.gguf"), bytes).expect("fixture parses")
    })
}

/// A value of type `ty % 14` from `b` (13: remove the key).
fn value(ty: u8, b: &[u8], len: usize) -> Option<MetaValue> {
    let mut x = [0u8; 8];
    x[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    let u = u64::from_le_bytes(x);
    Some(match ty % 14 {
        0 => MetaValue::U8(x[0]),
        1 => MetaValue::I8(x[0] as i8),
        2 => MetaValue::U16(u as u16),
        3 => MetaValue::I16(u as i16),
        4 => MetaValue::U32(u as u32),
        5 => MetaValue::I32(u as i32),
        6 => MetaValue::F32(f32::from_bits(u as u32)),
        7 => MetaValue::Bool(x[0] & 1 == 1),
        8 => MetaValue::Str(String::from_utf8_lossy(b).into_owned()),
        9 => MetaValue::Array(MetaArray::F32((0..len).map(|i| f32::from_bits((u as u32).rotate_left(i as u32))).collect())),
        10 => MetaValue::U64(u),
        11 => MetaValue::I64(u as i64),
        12 => MetaValue::F64(f64::from_bits(u)),
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let file = base();
    let mut metadata: BTreeMap<String, MetaValue> = file.metadata.clone();
    // Records: [key index][type][value length][value bytes…].
    let mut rest = data;
    while rest.len() >= 3 {
        let key = KEYS[rest[0] as usize % KEYS.len()];
        let n = (rest[2] as usize % 16).min(rest.len() - 3);
        let tokens = file.metadata.get("tokenizer.ggml.tokens").and_then(MetaValue::as_array).map_or(0, |a| a.len());
        match value(rest[1], &rest[3..3 + n], tokens) {
            Some(v) => metadata.insert(key.to_owned(), v),
            None => metadata.remove(key),
        };
        rest = &rest[3 + n..];
    }
    let bytes = write::with_metadata(file, &metadata);
    let Ok(edited) = Gguf::from_bytes(std::path::Path::new("fuzz.gguf"), bytes) else { return };
    if let Ok(config) = decoders::from_gguf(&edited) {
        assert!(config.check().is_ok());
        assert!(config.rms_eps.is_finite() && config.rms_eps > 0.0 && config.rope_theta.is_finite());
    }
    if let Ok(tok) = tokenizer::from_gguf(&edited) {
        let _ = tok.encode("Fuzzed text, 123 tokens.\n\n  <b>x</b> 🙂");
    }
});
