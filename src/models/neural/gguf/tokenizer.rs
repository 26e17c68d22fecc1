//! The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`), rebuilt as a Hugging Face
//! `tokenizers` BPE: `tokens` (the vocabulary, id = position), `merges` ("a b" pairs, in rank
//! order), `token_type` (3 = control and 4 = user-defined tokens are kept whole when written in
//! text), the BOS/EOS/padding ids, and `pre`, which names the pre-tokenizer llama.cpp applies.
//!
//! Pre-tokenizers are those of the models' own `tokenizer.json` files: `gpt-2` is GPT-2's
//! byte-level regex; `smollm` (SmolLM, SmolLM2) first splits every digit apart, then the same
//! byte-level regex; `llama-bpe` (Llama 3, with its aliases) and `qwen2` split on their
//! families' regexes (numbers in runs of up to three digits, or one digit each) before the
//! byte-level mapping, and Llama 3 takes a word that is itself a token whole (`ignore_merges`),
//! as llama.cpp does. Other `pre` values are refused by name rather than tokenized differently
//! from the model's training. SentencePiece files (`model: llama`: Llama 2, Mistral, Gemma) are
//! tokenized by llama.cpp's own algorithm ([`super::spm`]) from `tokens`, `scores` and
//! `token_type`.

use tokenizers::SplitDelimiterBehavior;
use tokenizers::Tokenizer;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};

use super::Gguf;
use crate::models::neural::NeuralError;
use crate::models::neural::hf::{Backend, TextTokenizer};

/// `tokenizer.ggml.pre` values this build reproduces (llama.cpp's names; the aliases it treats
/// the same way are accepted too).
pub const SUPPORTED_PRE: &[&str] = &["gpt-2", "smollm", "llama-bpe", "qwen2"];

/// The split regexes of Llama 3's and Qwen2's tokenizer.json, as llama.cpp lists them.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How a `pre` value tokenizes: its pre-tokenizer, whether whole-word tokens skip the merges,
/// and whether a BOS token is added when the file does not say.
struct PreTokenization {
    pre_tokenizer: PreTokenizerWrapper,
    ignore_merges: bool,
    add_bos: bool,
}

fn pre_tokenization(pre: &str) -> Result<PreTokenization, String> {
    let byte_level = |regex: bool| -> PreTokenizerWrapper { ByteLevel::new(false, true, regex).into() };
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, String> {
        let split = Split::new(SplitPattern::Regex(pattern.into()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| format!("cannot build the {pre} pre-tokenizer: {e}"))?;
        Ok(Sequence::new(vec![split.into(), byte_level(false)]).into())
    };
    let (pre_tokenizer, ignore_merges, add_bos) = match pre {
        "gpt-2" | "default" | "phi-2" => (byte_level(true), false, false),
        "smollm" => (Sequence::new(vec![Digits::new(true).into(), byte_level(true)]).into(), false, false),
        "llama-bpe" | "llama3" | "llama-v3" => (split(LLAMA3_SPLIT)?, true, true),
        "qwen2" | "deepseek-r1-qwen" => (split(QWEN2_SPLIT)?, false, false),
        other => {
            return Err(format!(
                "tokenizer.ggml.pre {other:?} is not supported (supported: {})",
                SUPPORTED_PRE.join(", ")
            ));
        }
    };
    Ok(PreTokenization { pre_tokenizer, ignore_merges, add_bos })
}

pub fn from_gguf(file: &Gguf) -> Result<TextTokenizer, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let model = file.require_str("tokenizer.ggml.model")?;
    match model {
        "gpt2" => {}
        "llama" => return sentencepiece(file),
        _ => {
            return Err(err(format!(
                "tokenizer.ggml.model {model:?} is not supported (supported: gpt2 (byte-level BPE), llama (SentencePiece))"
            )));
        }
    }
    let pre = file.opt_str("tokenizer.ggml.pre")?.unwrap_or("gpt-2");
    let pre = pre_tokenization(pre).map_err(err)?;
    let strings = |key: &str| -> Result<Vec<&str>, NeuralError> {
        let values =
            file.require_array(key)?.strings().ok_or_else(|| err(format!("{key} is not an array of strings")))?;
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
        .ignore_merges(pre.ignore_merges)
        .build()
        .map_err(|e| err(format!("cannot build the BPE tokenizer: {e}")))?;
    let mut inner = Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre.pre_tokenizer));
    inner.with_decoder(Some(ByteLevelDecoder::default()));
    // llama.cpp's default for the pre-tokenizer when the file does not say.
    let mut tok = with_specials(file, Backend::Hf(Box::new(inner)), tokens.len(), pre.add_bos)?;
    let types = file.opt_array("tokenizer.ggml.token_type")?;
    let whole: Vec<u32> = (0..types.map_or(0, |t| t.len().min(tokens.len())))
        .filter(|&i| matches!(types.and_then(|t| t.u64_at(i)), Some(3 | 4)))
        .map(|i| i as u32)
        .chain([tok.bos, tok.eos, tok.pad].into_iter().flatten())
        .collect();
    tok.keep_whole(whole.into_iter())?;
    Ok(tok)
}

/// A SentencePiece vocabulary (`tokenizer.ggml.model = llama`) for llama.cpp's algorithm.
fn sentencepiece(file: &Gguf) -> Result<TextTokenizer, NeuralError> {
    let err = |m: String| NeuralError::file(&file.path, m);
    let array = |key: &str| file.require_array(key);
    let tokens = array("tokenizer.ggml.tokens")?
        .strings()
        .ok_or_else(|| err("tokenizer.ggml.tokens is not an array of strings".into()))?
        .to_vec();
    let n = tokens.len();
    let scores_meta = array("tokenizer.ggml.scores")?;
    let types_meta = array("tokenizer.ggml.token_type")?;
    if scores_meta.len() != n || types_meta.len() != n {
        return Err(err(format!(
            "tokenizer.ggml.scores ({}) and tokenizer.ggml.token_type ({}) must have one entry per token ({n})",
            scores_meta.len(),
            types_meta.len()
        )));
    }
    let mut scores = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for i in 0..n {
        let score =
            scores_meta.f64_at(i).ok_or_else(|| err(format!("tokenizer.ggml.scores[{i}] is not a number")))? as f32;
        // SentencePiece merges by score: a NaN compares as neither higher nor lower and ±∞ beats
        // every real score, so either would change the tokenization without a word.
        if !score.is_finite() {
            return Err(err(format!("tokenizer.ggml.scores[{i}] is {score}; token scores must be finite")));
        }
        scores.push(score);
        let t = types_meta.u64_at(i).ok_or_else(|| err(format!("tokenizer.ggml.token_type[{i}] is not an integer")))?;
        types.push(u8::try_from(t).map_err(|_| err(format!("tokenizer.ggml.token_type[{i}] is {t}")))?);
    }
    let add_space_prefix = file.opt_bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
    let spm = super::spm::SpmTokenizer::new(tokens, scores, types, add_space_prefix).map_err(err)?;
    if !spm.has_byte_tokens() {
        return Err(err("the SentencePiece vocabulary lacks byte tokens <0x00>..<0xFF> (byte fallback)".into()));
    }
    // llama.cpp's default for SentencePiece vocabularies.
    with_specials(file, Backend::Spm(Box::new(spm)), n, true)
}

/// The tokenizer around `backend` with the file's BOS, EOS and padding ids (each checked to lie
/// in the vocabulary of `n` tokens) and whether it adds BOS (`add_bos_default` when the file does
/// not say); prompts and contexts start with BOS exactly when it does, as llama.cpp's do.
fn with_specials(file: &Gguf, backend: Backend, n: usize, add_bos_default: bool) -> Result<TextTokenizer, NeuralError> {
    let id = |key: &str| -> Result<Option<u32>, NeuralError> {
        match file.opt_u64(key)? {
            Some(v) if v < n as u64 => Ok(Some(v as u32)),
            Some(v) => Err(NeuralError::file(&file.path, format!("{key} {v} is outside the vocabulary of {n}"))),
            None => Ok(None),
        }
    };
    let add_bos = file.opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(add_bos_default);
    Ok(TextTokenizer {
        backend,
        source: file.path.clone(),
        bos: id("tokenizer.ggml.bos_token_id")?,
        eos: id("tokenizer.ggml.eos_token_id")?,
        cls: None,
        sep: None,
        mask: None,
        pad: id("tokenizer.ggml.padding_token_id")?,
        add_bos,
        lead_bos: add_bos,
    })
}
