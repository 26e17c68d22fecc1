//! The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`), rebuilt as a Hugging Face
//! `tokenizers` BPE: `tokens` (the vocabulary, id = position), `merges` ("a b" pairs, in rank
//! order), `token_type` (3 = control and 4 = user-defined tokens are kept whole when written in
//! text), the BOS/EOS/padding ids, and `pre`, which names the pre-tokenizer llama.cpp applies.
//!
//! Pre-tokenizers are those of the models' own `tokenizer.json` files: `gpt-2` is GPT-2's
//! byte-level regex; `smollm` (SmolLM, SmolLM2) first splits every digit apart, then the same
//! byte-level regex. Other `pre` values and SentencePiece (`model: llama`) files are refused by
//! name rather than tokenized differently from the model's training.

use tokenizers::Tokenizer;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

use super::{Gguf, MetaValue};
use crate::models::neural::NeuralError;
use crate::models::neural::hf::TextTokenizer;

/// `tokenizer.ggml.pre` values this build reproduces.
pub const SUPPORTED_PRE: &[&str] = &["gpt-2", "smollm"];

pub fn from_gguf(file: &Gguf) -> Result<TextTokenizer, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let model = file.require("tokenizer.ggml.model")?.as_str().unwrap_or_default();
    if model != "gpt2" {
        return Err(err(format!("tokenizer.ggml.model {model:?} is not supported (byte-level BPE, \"gpt2\", is)")));
    }
    let pre = file.get("tokenizer.ggml.pre").and_then(MetaValue::as_str).unwrap_or("gpt-2");
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        "gpt-2" | "default" => ByteLevel::new(false, true, true).into(),
        "smollm" => Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into(),
        other => {
            return Err(err(format!(
                "tokenizer.ggml.pre {other:?} is not supported (supported: {})",
                SUPPORTED_PRE.join(", ")
            )));
        }
    };
    let strings = |key: &str| -> Result<Vec<&str>, NeuralError> {
        let values = file
            .require(key)?
            .as_array()
            .and_then(|a| a.strings())
            .ok_or_else(|| err(format!("{key} is not an array of strings")))?;
        Ok(values.iter().map(String::as_str).collect())
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let mut vocab = Vocab::default();
    for (id, token) in tokens.iter().enumerate() {
        if vocab.insert(token.to_string(), id as u32).is_some() {
            return Err(err(format!("tokenizer.ggml.tokens[{id}] {token:?} appears twice")));
        }
    }
    let merges = strings("tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .filter(|(a, b)| vocab.contains_key(*a) && vocab.contains_key(*b))
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| err(format!("tokenizer.ggml.merges[{i}] {m:?} is not two vocabulary tokens")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| err(format!("cannot build the BPE tokenizer: {e}")))?;
    let mut inner = Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre_tokenizer));
    inner.with_decoder(Some(ByteLevelDecoder::default()));
    let id = |key: &str| -> Result<Option<u32>, NeuralError> {
        match file.get(key).and_then(MetaValue::as_u64) {
            Some(v) if (v as usize) < tokens.len() => Ok(Some(v as u32)),
            Some(v) => Err(err(format!("{key} {v} is outside the vocabulary of {}", tokens.len()))),
            None => Ok(None),
        }
    };
    let mut tok = TextTokenizer {
        inner,
        source: file.path.clone(),
        bos: id("tokenizer.ggml.bos_token_id")?,
        eos: id("tokenizer.ggml.eos_token_id")?,
        cls: None,
        sep: None,
        mask: None,
        pad: id("tokenizer.ggml.padding_token_id")?,
        // llama.cpp's default for the byte-level BPE vocabularies this loader reads.
        add_bos: file.get("tokenizer.ggml.add_bos_token").and_then(MetaValue::as_bool).unwrap_or(false),
    };
    let types = file.get("tokenizer.ggml.token_type").and_then(MetaValue::as_array);
    let whole: Vec<u32> = (0..types.map_or(0, |t| t.len().min(tokens.len())))
        .filter(|&i| matches!(types.and_then(|t| t.u64_at(i)), Some(3 | 4)))
        .map(|i| i as u32)
        .chain([tok.bos, tok.eos, tok.pad].into_iter().flatten())
        .collect();
    tok.keep_whole(whole.into_iter())?;
    Ok(tok)
}
