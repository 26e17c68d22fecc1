//! The neural architectures this build loads, one line each: the name a model file gives
//! (`config.json` `model_type`, or GGUF `general.architecture`), the format, the family it serves
//! and the function that loads it. Loading looks a model up here; a name that is not here is an
//! error that names it and lists what is supported, never a fallback to another architecture.
//!
//! Adding an architecture: its network file in `enabled/` (config, `load`, `forward`), one line
//! here, its parity fixture, its entry in docs/models.md.

use super::Family;

/// How the model is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Hugging Face folder: `config.json`, weights, tokenizer.
    HfFolder,
    /// A llama.cpp GGUF file.
    Gguf,
}

impl Format {
    fn key(self) -> &'static str {
        match self {
            Format::HfFolder => "model_type",
            Format::Gguf => "general.architecture",
        }
    }
}

#[derive(Debug)]
pub struct Architecture {
    pub name: &'static str,
    pub format: Format,
    pub family: Family,
    /// What the entry's reader accepts beyond the base architecture, for the support table.
    pub variants: &'static str,
}

/// One line per architecture gives two tables in the same order: what is supported (plain data,
/// read by validation, `lmgauge models` and error messages) and, with libtorch, how each entry
/// loads. They are apart so that the `lmgauge` launcher, which never loads a network, refers to
/// no loader and so links no libtorch (see `cli::launch`).
macro_rules! architectures {
    ($(($name:literal, $format:ident, $family:ident, $load:path, $variants:literal)),* $(,)?) => {
        pub const ARCHITECTURES: &[Architecture] = &[$(Architecture {
            name: $name,
            format: Format::$format,
            family: Family::$family,
            variants: $variants,
        }),*];

        /// The loader of `ARCHITECTURES[index]`.
        #[cfg(feature = "torch")]
        pub(super) fn loader(index: usize) -> super::enabled::Loader {
            const LOADERS: &[super::enabled::Loader] = &[$(super::enabled::Loader::$format($load)),*];
            LOADERS[index]
        }
    };
}

architectures![
    ("gpt2", HfFolder, Causal, super::enabled::gpt2::load, "GPT-2, DistilGPT-2"),
    ("gpt_neo", HfFolder, Causal, super::enabled::gpt_neo::load, "local/global attention layers"),
    (
        "llama",
        HfFolder,
        Causal,
        super::enabled::decoder::load_hf,
        "rope scaling linear, dynamic, llama3 (Llama 3.1/3.2); biases"
    ),
    (
        "llama",
        Gguf,
        Causal,
        super::enabled::decoder::load_gguf,
        "unscaled rope; SentencePiece and byte-level BPE tokenizers (gpt-2, smollm, llama-bpe, qwen2)"
    ),
    (
        "qwen2",
        Gguf,
        Causal,
        super::enabled::decoder::load_gguf,
        "Qwen2, Qwen2.5; query/key/value biases; no rope scaling"
    ),
    (
        "gemma2",
        Gguf,
        Causal,
        super::enabled::decoder::load_gguf,
        "soft-capping, local/global alternation; compute: f32 only"
    ),
    (
        "gemma3",
        Gguf,
        Causal,
        super::enabled::decoder::load_gguf,
        "Gemma 3; local/global attention, query/key norms, linear rope scaling; SentencePiece"
    ),
    ("qwen2", HfFolder, Causal, super::enabled::decoder::load_hf, "Qwen2, Qwen2.5; tied or untied; no sliding window"),
    ("mistral", HfFolder, Causal, super::enabled::decoder::load_hf, "sliding window or none"),
    ("gemma2", HfFolder, Causal, super::enabled::decoder::load_hf, "soft-capping, local/global alternation"),
    (
        "gemma3_text",
        HfFolder,
        Causal,
        super::enabled::decoder::load_hf,
        "Gemma 3 text model; query/key norms, local rope base, linear rope scaling"
    ),
    ("phi3", HfFolder, Causal, super::enabled::decoder::load_hf, "fused projections, longrope, sliding window"),
    ("albert", HfFolder, Masked, super::enabled::masked::load, ""),
    ("bert", HfFolder, Masked, super::enabled::masked::load, ""),
    ("distilbert", HfFolder, Masked, super::enabled::masked::load, ""),
    ("roberta", HfFolder, Masked, super::enabled::masked::load, ""),
    ("bert", HfFolder, Reward, super::enabled::reward::load, "one-label sequence classification"),
    ("bert", HfFolder, Encoder, super::enabled::encoder::load, "hidden states of one layer; any BERT head ignored"),
    ("distilbert", HfFolder, Reward, super::enabled::reward::load, "one-label sequence classification"),
    ("roberta", HfFolder, Reward, super::enabled::reward::load, "one-label sequence classification"),
    ("deberta-v2", HfFolder, Reward, super::enabled::reward::load, "DeBERTa-v2/v3, one label"),
];

/// The support table of docs/models.md, generated from the registry so that it cannot drift
/// (a test compares the two): one row per entry.
pub fn support_table() -> String {
    let yes = |b: bool| if b { "yes" } else { "–" };
    let mut out = String::from(
        "| architecture | source | kind | scores | generation | KV cache | packed windows | quantized compute | variants |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for a in ARCHITECTURES {
        let causal = a.family == Family::Causal;
        let scores = match a.family {
            Family::Causal => "log-probabilities",
            Family::Masked => "PLL, PLL-word-l2r",
            Family::Reward => "rewards",
            Family::Encoder => "BERTScore",
        };
        let source = match a.format {
            Format::HfFolder => "HF folder",
            Format::Gguf => "GGUF",
        };
        let quantized = a.format == Format::Gguf && super::quantized::ARCHITECTURES.contains(&a.name);
        out.push_str(&format!(
            "| `{}` | {source} | {} | {scores} | {} | {} | {} | {} | {} |\n",
            a.name,
            a.family.name(),
            yes(causal),
            yes(causal),
            yes(causal),
            yes(quantized),
            a.variants
        ));
    }
    out
}

/// The names this build loads for a family in a format, in registry order.
pub fn names(format: Format, family: Family) -> Vec<&'static str> {
    ARCHITECTURES.iter().filter(|a| a.format == format && a.family == family).map(|a| a.name).collect()
}

/// The index of `name`'s entry, or a message naming the value, the supported list and, when the name
/// serves another family, the kind to use instead.
pub fn find(format: Format, family: Family, name: &str) -> Result<usize, String> {
    if let Some(i) = ARCHITECTURES.iter().position(|a| a.format == format && a.family == family && a.name == name) {
        return Ok(i);
    }
    let other: Vec<&str> = ARCHITECTURES
        .iter()
        .filter(|a| a.format == format && a.name == name && a.family != family)
        .map(|a| a.family.name())
        .collect();
    let hint = match other.first() {
        Some(kind) => format!(" (it is a {kind} model: use kind {kind})"),
        None => String::new(),
    };
    Err(format!(
        "{} {name:?} is not supported for kind {} (supported: {}){hint}",
        format.key(),
        family.name(),
        names(format, family).join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_architecture_is_named_with_the_supported_list() {
        let e = find(Format::HfFolder, Family::Causal, "mamba").unwrap_err();
        assert_eq!(
            e,
            "model_type \"mamba\" is not supported for kind causal (supported: gpt2, gpt_neo, llama, qwen2, mistral, gemma2, gemma3_text, phi3)"
        );
        let e = find(Format::HfFolder, Family::Causal, "bert").unwrap_err();
        assert!(e.ends_with("(it is a masked model: use kind masked)"), "{e}");
        let e = find(Format::Gguf, Family::Causal, "phi3").unwrap_err();
        assert!(
            e.starts_with("general.architecture \"phi3\"") && e.contains("(supported: llama, qwen2, gemma2, gemma3)"),
            "{e}"
        );
        assert!(find(Format::HfFolder, Family::Reward, "deberta-v2").is_ok());
    }
}
