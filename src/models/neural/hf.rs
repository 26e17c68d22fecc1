//! A Hugging Face model folder as transformers reads it: `config.json` (the architecture), the
//! weight files (one `model.safetensors`, shards listed by `model.safetensors.index.json`, or
//! `pytorch_model.bin`) and the tokenizer (`tokenizer.json`, else `vocab.json` + `merges.txt` for
//! byte-level BPE, else `vocab.txt` for WordPiece), with special tokens from
//! `tokenizer_config.json`/`special_tokens_map.json`. No libtorch here: this part also serves
//! builds without the `torch` feature, to say what a folder holds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use super::NeuralError;

/// How many tokens of a pair (n1, n2) survive truncation to `max` tokens (special tokens already
/// subtracted) under the `tokenizers` library's longest-first strategy, which transformers' fast
/// tokenizers use: the shorter text keeps what it can, and when both are too long each gets half.
pub fn longest_first(n1: usize, n2: usize, max: usize) -> (usize, usize) {
    if n1 + n2 <= max {
        return (n1, n2);
    }
    let swap = n1 > n2;
    let (mut a, mut b) = if swap { (n2, n1) } else { (n1, n2) };
    b = if a > max { a } else { b.min((max - a).max(a)) };
    if a + b > max {
        a = max / 2;
        b = a + max % 2;
    }
    if swap { (b, a) } else { (a, b) }
}

/// A model folder, checked for the files a load needs.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    pub dir: PathBuf,
    pub config: Value,
    pub model_type: String,
    pub weights: Vec<PathBuf>,
}

impl ModelFolder {
    pub fn open(dir: &Path) -> Result<Self, NeuralError> {
        if !dir.is_dir() {
            return Err(NeuralError::file(dir, "not a model folder (expected a directory with config.json)"));
        }
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        if !config.is_object() {
            return Err(NeuralError::file(&config_path, "is not a JSON object (a config.json maps keys to values)"));
        }
        let model_type = config
            .get("model_type")
            .and_then(Value::as_str)
            .ok_or_else(|| NeuralError::file(&config_path, "no \"model_type\" key: cannot tell the architecture"))?
            .to_owned();
        let weights = weight_files(dir)?;
        Ok(ModelFolder { dir: dir.to_owned(), config, model_type, weights })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// An integer from config.json, or an error naming the key.
    pub fn int(&self, key: &str) -> Result<i64, NeuralError> {
        self.config
            .get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| NeuralError::file(&self.config_path(), format!("missing or non-integer key \"{key}\"")))
    }

    pub fn opt_int(&self, key: &str) -> Option<i64> {
        self.config.get(key).and_then(Value::as_i64)
    }

    /// An optional key read by `read` (a `serde_json::Value` accessor): absent or `null` is
    /// `None`; a value `read` refuses is an error naming the key and saying what it must be, never
    /// taken for absent (a default in its place would change the model silently).
    pub fn typed<'a, T>(
        &'a self,
        key: &str,
        read: impl Fn(&'a Value) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, NeuralError> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => read(v).map(Some).ok_or_else(|| {
                NeuralError::file(&self.config_path(), format!("\"{key}\" is {v}; it must be {expected}"))
            }),
        }
    }

    pub fn architectures(&self) -> Vec<String> {
        self.config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

pub fn read_json(path: &Path) -> Result<Value, NeuralError> {
    let text = std::fs::read_to_string(path).map_err(|e| NeuralError::file(path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| NeuralError::file(path, format!("invalid JSON: {e}")))
}

/// The folder's weight files, in the order transformers prefers them.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, NeuralError> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let v = read_json(&index)?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| NeuralError::file(&index, "no \"weight_map\" object"))?;
        let mut shards = BTreeSet::new();
        for (tensor, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| NeuralError::file(&index, format!("weight_map[{tensor:?}] is not a file name")))?;
            if file.contains('/') || file.contains("..") {
                return Err(NeuralError::file(&index, format!("shard {file:?} is not a file in the folder")));
            }
            shards.insert(file.to_owned());
        }
        let paths: Vec<PathBuf> = shards.into_iter().map(|f| dir.join(f)).collect();
        if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
            return Err(NeuralError::file(&index, format!("lists shard {} which does not exist", missing.display())));
        }
        return Ok(paths);
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.is_file() {
        return Ok(vec![bin]);
    }
    Err(NeuralError::file(
        dir,
        "no weights: expected model.safetensors, model.safetensors.index.json or pytorch_model.bin",
    ))
}

/// Layers a checkpoint stores: one more than the largest index `i` in names like
/// `….h.i.…`, `….layer.i.…` or `….layers.i.…` (`None` when no name has one).
pub fn stored_layers<'a>(names: impl Iterator<Item = &'a str>) -> Option<u64> {
    let mut top: Option<u64> = None;
    for name in names {
        let parts: Vec<&str> = name.split('.').collect();
        for w in parts.windows(2) {
            if matches!(w[0], "h" | "layer" | "layers")
                && let Ok(i) = w[1].parse::<u64>()
            {
                top = Some(top.map_or(i, |t| t.max(i)));
            }
        }
    }
    top.map(|t| t + 1)
}

/// Size keys of the supported architectures' configs (transformers' names and GPT-2's).
const LAYER_KEYS: &[&str] = &["n_layer", "num_hidden_layers", "n_layers", "num_layers"];
const WIDTH_KEYS: &[&str] = &["n_embd", "hidden_size", "dim", "embedding_size", "d_model"];
const COUNT_KEYS: &[&str] = &[
    "n_head",
    "num_attention_heads",
    "n_heads",
    "num_heads",
    "num_key_value_heads",
    "head_dim",
    "n_inner",
    "intermediate_size",
    "hidden_dim",
    "vocab_size",
    "n_positions",
    "n_ctx",
    "max_position_embeddings",
    "num_hidden_groups",
    "inner_group_num",
];

/// Refuses a `config.json` its checkpoint cannot back (`elements` parameters, `ckpt_layers`
/// stored layers), before any network is built from it: every size a positive integer, none
/// larger than the parameters could hold, the layer count equal to the stored one. Plain Rust,
/// so the fuzz target reaches it.
pub fn check_config_sizes(
    config: &serde_json::Value,
    model_type: &str,
    elements: i64,
    ckpt_layers: Option<u64>,
) -> Result<(), String> {
    let mut sizes = std::collections::BTreeMap::new();
    for &key in LAYER_KEYS.iter().chain(WIDTH_KEYS).chain(COUNT_KEYS) {
        match config.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => {
                    sizes.insert(key, n);
                }
                _ => return Err(format!("\"{key}\" is {v}; it must be a positive integer")),
            },
        }
    }
    let elements = elements.max(0) as u64;
    for (key, &n) in &sizes {
        if n > elements {
            return Err(format!("\"{key}\" is {n}, more than the {elements} parameters the checkpoint holds"));
        }
    }
    let width = WIDTH_KEYS.iter().filter_map(|k| sizes.get(k)).min().copied().unwrap_or(1);
    if let Some(&vocab) = sizes.get("vocab_size")
        && vocab.saturating_mul(width) > elements
    {
        return Err(format!(
            "\"vocab_size\" {vocab} × width {width} needs more parameters than the checkpoint's {elements}"
        ));
    }
    // Networks with learned absolute positions allocate positions × width before loading.
    let absolute = matches!(model_type, "gpt2" | "gpt_neo" | "bert" | "roberta" | "distilbert" | "albert");
    let wide: &[&str] = if absolute {
        &["n_inner", "intermediate_size", "hidden_dim", "n_positions", "n_ctx", "max_position_embeddings"]
    } else {
        &["n_inner", "intermediate_size", "hidden_dim"]
    };
    for key in wide {
        if let Some(&n) = sizes.get(key)
            && n.saturating_mul(width) > elements
        {
            return Err(format!(
                "\"{key}\" {n} × width {width} needs more parameters than the checkpoint's {elements}"
            ));
        }
    }
    let layer_key = LAYER_KEYS.iter().find(|k| sizes.contains_key(**k));
    if let Some(&key) = layer_key {
        let layers = sizes[key];
        if layers.saturating_mul(width) > elements {
            return Err(format!(
                "\"{key}\" {layers} × width {width} needs more parameters than the checkpoint's {elements}"
            ));
        }
        // ALBERT shares one group of layers across all of them: its count is not stored.
        if let (Some(stored), false) = (ckpt_layers, model_type == "albert")
            && stored != layers
        {
            return Err(format!("\"{key}\" is {layers} but the checkpoint stores {stored} layers"));
        }
    }
    Ok(())
}

/// What splits text into ids: the `tokenizers` library (Hugging Face folders, GGUF byte-level
/// BPE) or llama.cpp's SentencePiece algorithm (GGUF `tokenizer.ggml.model = llama`).
pub(crate) enum Backend {
    Hf(Box<Tokenizer>),
    Spm(Box<super::gguf::spm::SpmTokenizer>),
}

/// A tokenizer plus the special tokens the scoring loops need.
pub struct TextTokenizer {
    pub(crate) backend: Backend,
    pub source: PathBuf,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub cls: Option<u32>,
    pub sep: Option<u32>,
    pub mask: Option<u32>,
    pub pad: Option<u32>,
    /// Whether llama.cpp's tokenizer starts a text with the beginning-of-text token
    /// (`tokenizer.ggml.add_bos_token`, `add_bos_token` in tokenizer_config.json): the
    /// llama-perplexity window policy puts it first in every chunk.
    pub add_bos: bool,
    /// Whether a generation prompt or a scored continuation's context starts with the
    /// beginning-of-text token: as llama.cpp tokenizes them for a GGUF file (its `add_bos`;
    /// Gemma's files need it), never for a Hugging Face folder, whose prompts lm-evaluation-harness
    /// encodes without special tokens.
    pub lead_bos: bool,
}

/// Token ids of a text with the UTF-8 byte span of each and the word it belongs to.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub spans: Vec<(usize, usize)>,
    pub words: Vec<Option<u32>>,
}

impl TextTokenizer {
    pub fn load(folder: &ModelFolder) -> Result<Self, NeuralError> {
        let dir = &folder.dir;
        let config = ["tokenizer_config.json", "special_tokens_map.json"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| p.is_file())
            .map(|p| read_json(&p))
            .collect::<Result<Vec<_>, _>>()?;
        let special = |key: &str| -> Option<String> {
            config.iter().find_map(|c| match c.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
        };
        let json = dir.join("tokenizer.json");
        let (vocab_json, merges, vocab_txt) = (dir.join("vocab.json"), dir.join("merges.txt"), dir.join("vocab.txt"));
        let (inner, source) = if json.is_file() {
            (Tokenizer::from_file(&json).map_err(|e| NeuralError::file(&json, e.to_string()))?, json)
        } else if vocab_json.is_file() && merges.is_file() {
            let bpe = BPE::from_file(&path_str(&vocab_json), &path_str(&merges)).build().map_err(|e| {
                NeuralError::file(&vocab_json, format!("cannot build byte-level BPE with merges.txt: {e}"))
            })?;
            let mut t = Tokenizer::new(bpe);
            t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
            t.with_decoder(Some(ByteLevel::default()));
            (t, vocab_json)
        } else if vocab_txt.is_file() {
            let lowercase = config.iter().find_map(|c| c.get("do_lower_case").and_then(Value::as_bool)).unwrap_or(true);
            let unk = special("unk_token").unwrap_or_else(|| "[UNK]".into());
            let wp = WordPiece::from_file(&path_str(&vocab_txt))
                .unk_token(unk)
                .build()
                .map_err(|e| NeuralError::file(&vocab_txt, format!("cannot read the WordPiece vocabulary: {e}")))?;
            let mut t = Tokenizer::new(wp);
            t.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
                .map_err(|e| NeuralError::file(&vocab_txt, e.to_string()))?;
            t.with_pre_tokenizer(Some(BertPreTokenizer));
            (t, vocab_txt)
        } else {
            return Err(NeuralError::file(
                dir,
                "no tokenizer: expected tokenizer.json, vocab.json + merges.txt, or vocab.txt",
            ));
        };
        // transformers sets truncation and padding per call and ignores what a saved tokenizer.json
        // carries (a tokenizer saved after a truncating call keeps that max_length); so does this.
        let mut inner = inner;
        inner.with_truncation(None).map_err(|e| NeuralError::file(&source, e.to_string()))?;
        inner.with_padding(None);
        let add_bos = config.iter().find_map(|c| c.get("add_bos_token").and_then(Value::as_bool)).unwrap_or(false);
        let mut tok = TextTokenizer {
            backend: Backend::Hf(Box::new(inner)),
            source,
            bos: None,
            eos: None,
            cls: None,
            sep: None,
            mask: None,
            pad: None,
            add_bos,
            lead_bos: false,
        };
        let find = |tok: &TextTokenizer, key: &str, defaults: &[&str]| -> Option<u32> {
            special(key).into_iter().chain(defaults.iter().map(|s| s.to_string())).find_map(|t| tok.token_to_id(&t))
        };
        tok.eos = folder
            .opt_int("eos_token_id")
            .and_then(|i| u32::try_from(i).ok())
            .or_else(|| find(&tok, "eos_token", &["<|endoftext|>", "</s>"]));
        // lm-evaluation-harness asks the tokenizer, not config.json, for the prefix token.
        tok.bos = find(&tok, "bos_token", &[]);
        tok.cls = find(&tok, "cls_token", &["[CLS]", "<s>"]);
        tok.sep = find(&tok, "sep_token", &["[SEP]", "</s>"]);
        tok.mask = find(&tok, "mask_token", &["[MASK]", "<mask>"]);
        tok.pad = find(&tok, "pad_token", &["[PAD]", "<pad>"]);
        let specials = [tok.bos, tok.eos, tok.cls, tok.sep, tok.mask, tok.pad];
        tok.keep_whole(specials.into_iter().flatten())?;
        Ok(tok)
    }

    /// Special tokens written literally in the text stay one token, as transformers keeps them.
    /// (llama.cpp's SentencePiece tokenizer finds its own user-defined tokens.)
    pub(crate) fn keep_whole(&mut self, ids: impl Iterator<Item = u32>) -> Result<(), NeuralError> {
        let Backend::Hf(inner) = &mut self.backend else { return Ok(()) };
        let literal: Vec<AddedToken> =
            ids.filter_map(|id| inner.id_to_token(id)).map(|t| AddedToken::from(t, true)).collect();
        inner.add_special_tokens(literal).map_err(|e| NeuralError::file(&self.source, e.to_string()))?;
        Ok(())
    }

    pub fn token_to_id(&self, text: &str) -> Option<u32> {
        match &self.backend {
            Backend::Hf(t) => t.token_to_id(text),
            Backend::Spm(t) => t.token_to_id(text),
        }
    }

    /// The token rolling windows start from: lm-evaluation-harness 0.4.5 (`HFLM.prefix_token_id`)
    /// takes the beginning-of-text token when the tokenizer has one, else the end-of-text token.
    pub fn prefix(&self) -> Option<u32> {
        self.bos.or(self.eos)
    }

    pub fn vocab_size(&self) -> usize {
        match &self.backend {
            Backend::Hf(t) => t.get_vocab_size(true),
            Backend::Spm(t) => t.vocab_size(),
        }
    }

    /// The text of generated token ids (special tokens left out, as `skip_special_tokens=True`).
    pub fn decode(&self, ids: &[u32]) -> Result<String, NeuralError> {
        match &self.backend {
            Backend::Hf(t) => {
                t.decode(ids, true).map_err(|e| NeuralError::file(&self.source, format!("decoding failed: {e}")))
            }
            Backend::Spm(t) => Ok(t.decode(ids)),
        }
    }

    /// Tokens of `text` without special tokens, as `tokenizer(text, add_special_tokens=False)`.
    pub fn encode(&self, text: &str) -> Result<Encoded, NeuralError> {
        let inner = match &self.backend {
            Backend::Hf(t) => t,
            Backend::Spm(t) => return Ok(t.encode(text)),
        };
        let enc = inner
            .encode(text, false)
            .map_err(|e| NeuralError::file(&self.source, format!("tokenizing failed: {e}")))?;
        Ok(Encoded {
            ids: enc.get_ids().iter().map(|&i| i as i64).collect(),
            spans: enc.get_offsets().to_vec(),
            words: enc.get_word_ids().to_vec(),
        })
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::longest_first;

    #[test]
    fn longest_first_matches_the_tokenizers_library() {
        // (n1, n2, max) → what tokenizers' truncate_encodings keeps.
        assert_eq!(longest_first(3, 4, 10), (3, 4));
        assert_eq!(longest_first(10, 100, 50), (10, 40));
        assert_eq!(longest_first(100, 10, 50), (40, 10));
        assert_eq!(longest_first(60, 70, 50), (25, 25));
        assert_eq!(longest_first(60, 70, 51), (25, 26));
        assert_eq!(longest_first(70, 60, 51), (26, 25));
        assert_eq!(longest_first(30, 30, 51), (25, 26));
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_sizes_must_fit_the_checkpoint() {
        let gpt2 =
            json!({"n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 64, "vocab_size": 420, "n_inner": null});
        assert_eq!(check_config_sizes(&gpt2, "gpt2", 40_960, Some(2)), Ok(()));
        let with = |k: &str, v: serde_json::Value| {
            let mut c = gpt2.clone();
            c[k] = v;
            check_config_sizes(&c, "gpt2", 40_960, Some(2)).unwrap_err()
        };
        assert!(with("n_layer", json!(-2)).contains("\"n_layer\" is -2"));
        assert!(with("n_layer", json!(0)).contains("positive integer"));
        assert!(with("n_layer", json!(1)).contains("checkpoint stores 2 layers"));
        assert!(with("n_layer", json!(3)).contains("checkpoint stores 2 layers"));
        assert!(with("n_layer", json!(1 << 20)).contains("more than the 40960 parameters"));
        assert!(with("n_embd", json!(1u64 << 40)).contains("\"n_embd\""));
        assert!(with("n_positions", json!(4096)).contains("× width 32"));
        assert!(with("n_head", json!(2.5)).contains("positive integer"));
        // ALBERT shares its layers: the count is not stored.
        let albert = json!({"num_hidden_layers": 12, "hidden_size": 32, "embedding_size": 16, "vocab_size": 400});
        assert_eq!(check_config_sizes(&albert, "albert", 17_280, Some(1)), Ok(()));
    }

    #[test]
    fn stored_layers_reads_the_usual_names() {
        let names = ["transformer.h.0.attn.c_attn.weight", "transformer.h.11.mlp.c_fc.bias", "transformer.wte.weight"];
        assert_eq!(stored_layers(names.into_iter()), Some(12));
        assert_eq!(
            stored_layers(
                ["bert.encoder.layer.3.output.dense.weight", "model.layers.7.mlp.up_proj.weight"].into_iter()
            ),
            Some(8)
        );
        assert_eq!(stored_layers(["embeddings.word_embeddings.weight"].into_iter()), None);
    }
}
