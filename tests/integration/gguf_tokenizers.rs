//! Tokenizers rebuilt from GGUF metadata against llama.cpp's own `llama-tokenize`
//! (tests/fixtures/tokenizers, scripts/gguf-tokenizer-fixtures.py): SentencePiece vocabularies
//! with and without the space prefix, byte-level BPE with the GPT-2, Llama 3 and Qwen2
//! pre-tokenizers, on texts with whitespace runs, CRLF, digits, emoji and unseen scripts; and
//! Gemma 3's real 262k SentencePiece vocabulary (`make models`). Token ids must be identical:
//! a score is only comparable with llama.cpp's on the same ids.

use lmgauge::models::neural::gguf::{Gguf, tokenizer};
use lmgauge::models::neural::hf::{ModelFolder, TextTokenizer};
use serde_json::Value;

use crate::common::{fixture, real_model};

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("tokenizers/{name}"))).unwrap()).unwrap()
}

fn ids_of(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

/// The ids llama.cpp would score: the BOS token when the vocabulary adds one, then the text's.
fn llama_ids(tok: &TextTokenizer, text: &str) -> Vec<i64> {
    let encoded = tok.encode(text).unwrap();
    assert_eq!(encoded.ids.len(), encoded.spans.len());
    let mut end = 0;
    for &(a, b) in &encoded.spans {
        assert!(a <= b && b <= text.len() && a >= end.min(a), "span ({a}, {b}) of {text:?}");
        end = b;
    }
    let bos = if tok.add_bos { tok.bos } else { None };
    bos.map(i64::from).into_iter().chain(encoded.ids).collect()
}

fn check_file(file: &str, want: &Value, texts: &[Value]) {
    let path = fixture(&format!("tokenizers/{file}"));
    let tok = tokenizer::from_gguf(&Gguf::open(&path).unwrap()).unwrap();
    assert_eq!(tok.add_bos, want["add_bos"].as_bool().unwrap(), "{file}: add_bos");
    for (text, ids) in texts.iter().zip(want["ids"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        assert_eq!(llama_ids(&tok, text), ids_of(ids), "{file}: {text:?}");
    }
}

#[test]
fn gguf_tokenizers_match_llama_cpp() {
    let e = expected("expected.json");
    let texts = e["texts"].as_array().unwrap();
    let files = e["files"].as_object().unwrap();
    for kind in ["spm.gguf", "spm-no-prefix.gguf", "bpe-gpt-2.gguf", "bpe-llama-bpe.gguf", "bpe-qwen2.gguf"] {
        assert!(files.contains_key(kind), "{kind} has no fixture");
    }
    for (file, want) in files {
        check_file(file, want, texts);
    }
}

#[test]
fn byte_level_and_sentencepiece_tokens_decode_back_to_the_text() {
    let e = expected("expected.json");
    for file in ["bpe-gpt-2.gguf", "bpe-llama-bpe.gguf", "bpe-qwen2.gguf", "spm-no-prefix.gguf"] {
        let tok = tokenizer::from_gguf(&Gguf::open(&fixture(&format!("tokenizers/{file}"))).unwrap()).unwrap();
        for text in e["texts"].as_array().unwrap() {
            let text = text.as_str().unwrap();
            let ids: Vec<u32> = tok.encode(text).unwrap().ids.iter().map(|&i| i as u32).collect();
            assert_eq!(tok.decode(&ids).unwrap(), text, "{file}");
        }
    }
}

#[test]
fn gemma3_vocabulary_matches_llama_cpp() {
    let Some(path) = real_model("models/gemma3/gemma-3-270m-q4_k_m.gguf") else { return };
    let e = expected("gemma3.json");
    let tok = tokenizer::from_gguf(&Gguf::open(&path).unwrap()).unwrap();
    assert_eq!(tok.vocab_size(), 262_144);
    for (text, ids) in e["texts"].as_array().unwrap().iter().zip(e["ids"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        assert_eq!(llama_ids(&tok, text), ids_of(ids), "{text:?}");
    }
}

#[test]
fn unknown_pre_tokenizers_and_tokenizer_models_are_refused_by_name() {
    let path = fixture("tokenizers/bpe-qwen2.gguf");
    let bytes = std::fs::read(&path).unwrap();
    // Every occurrence, same length, so the file stays well-formed: only the values change.
    let swap = |from: &str, to: &str| {
        let mut b = bytes.clone();
        let mut at = 0;
        while let Some(i) = b[at..].windows(from.len()).position(|w| w == from.as_bytes()) {
            b[at + i..at + i + to.len()].copy_from_slice(to.as_bytes());
            at += i + to.len();
        }
        Gguf::from_bytes(&path, b).unwrap()
    };
    let err = tokenizer::from_gguf(&swap("qwen2", "qwen9")).err().unwrap().to_string();
    assert!(err.contains("tokenizer.ggml.pre \"qwen9\" is not supported") && err.contains("llama-bpe"), "{err}");
    let err = tokenizer::from_gguf(&swap("gpt2", "rwkv")).err().unwrap().to_string();
    assert!(err.contains("tokenizer.ggml.model \"rwkv\" is not supported") && err.contains("SentencePiece"), "{err}");
}

/// Hugging Face folders whose tokenizer.json is a SentencePiece model converted by transformers
/// (Llama 2 / Mistral style: Metaspace and byte fallback; Gemma style: spaces replaced by the
/// normalizer, no prefix): the ids transformers' `tokenizer(text, add_special_tokens=False)` gives,
/// what lm-evaluation-harness scores.
#[test]
fn sentencepiece_tokenizer_json_folders_match_transformers() {
    let e = expected("hf.json");
    let texts = e["texts"].as_array().unwrap();
    for name in ["hf-llama", "hf-gemma"] {
        let want = &e["folders"][name];
        let folder = ModelFolder {
            dir: fixture(&format!("tokenizers/{name}")),
            config: serde_json::json!({}),
            model_type: "llama".into(),
            weights: vec![],
        };
        let tok = TextTokenizer::load(&folder).unwrap();
        assert_eq!(tok.bos.map(i64::from), want["bos"].as_i64(), "{name}: bos");
        assert_eq!(tok.add_bos, want["add_bos"].as_bool().unwrap(), "{name}: add_bos");
        for (text, ids) in texts.iter().zip(want["ids"].as_array().unwrap()) {
            let text = text.as_str().unwrap();
            assert_eq!(tok.encode(text).unwrap().ids, ids_of(ids), "{name}: {text:?}");
        }
    }
}
