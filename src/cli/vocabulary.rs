//! The command-line vocabulary every subcommand shares: one name, one meaning, one default and
//! one help text per concept (docs/commands.md, "Conventions"). A flag that means the same thing in
//! two commands is defined here once and flattened into both, so they cannot drift apart again.
//!
//! Closed value lists (`--device`, `--dtype`, `--compute`, `--windows`, `--pll`, `--strategy`,
//! `--tokenize`, `--smooth`, `--types`) are parsed by clap into the library's own types before a
//! command starts, so a typo is refused at once with the accepted values, never after a model has
//! loaded. The library's types stay free of clap: [`closed`] adapts their `FromStr`.

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde_json::Value;

use crate::models::neural::{Compute, DeviceChoice, Dtype, NeuralOptions, PllVariant, Windows};

/// The seed of every command whose caller gives none, and of a suite without `seed:` (sacrebleu's
/// `SACREBLEU_SEED`, so its users meet the number they know).
pub const DEFAULT_SEED: u64 = crate::suite::DEFAULT_SEED;

/// The version of every `--json` object; it changes when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

/// A parser that accepts exactly `names` (listed in `--help` and in the error for anything else)
/// and converts with the type's own `FromStr`.
pub fn closed<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}

/// A parser that accepts exactly `names` and converts with a `from_name` lookup (the metric
/// types' own names, as sacrebleu and rouge_score spell them).
pub fn named<T>(names: &'static [&'static str], from_name: fn(&str) -> Option<T>) -> impl TypedValueParser<Value = T>
where
    T: Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(move |s| from_name(&s).ok_or_else(|| format!("unknown value {s:?}")))
}

/// `--seed`: the same name, default and help in every command that draws random numbers.
#[derive(Debug, Clone, Args)]
pub struct SeedArg {
    /// Seed of every random choice the command makes (resampling, sampling); the same seed gives
    /// byte-identical output.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// `--json`: one JSON object on standard output instead of text.
#[derive(Debug, Clone, Args)]
pub struct JsonArg {
    /// Print one JSON object (with a `version` field) instead of text; docs/commands.md lists
    /// each command's fields.
    #[arg(long)]
    pub json: bool,
}

/// Prints `value`, a JSON object, with its `version` and `command`; every `--json` goes through
/// here so that all of them have the same outer shape.
pub fn print_json(command: &str, mut value: Value) {
    let object = value.as_object_mut().expect("every --json output is one object");
    object.insert("version".into(), Value::from(JSON_VERSION));
    object.insert("command".into(), Value::from(command));
    println!("{}", serde_json::to_string_pretty(&value).expect("JSON values serialize"));
}

/// The model a one-model command loads (`perplexity`, `generate`, `ngram query`).
#[derive(Debug, Clone, Args)]
pub struct ModelArg {
    /// The model: an ARPA file (.arpa or .arpa.gz), a binary n-gram file (`lmgauge ngram build`),
    /// a GGUF file or a Hugging Face model folder.
    #[arg(long, short = 'm', value_name = "PATH")]
    pub model: PathBuf,
}

/// Where and how a neural model runs (`perplexity`, `generate`; a suite model's keys of the same
/// names).
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Where the network runs: auto (CUDA device 0 when libtorch sees one, else the CPU), cpu,
    /// cuda or cuda:N.
    #[arg(long, default_value = "auto", value_parser = parse_device, value_name = "auto|cpu|cuda|cuda:N")]
    pub device: DeviceChoice,
    /// Precision of weights and activations (half precision on CUDA only).
    #[arg(long, default_value = "f32", value_parser = closed::<Dtype>(&["f32", "f16", "bf16"]))]
    pub dtype: Dtype,
    /// Token slots per forward pass, padding included, 1 to 4,194,304 (generation: prompts are
    /// decoded in batches of about this many positions).
    #[arg(long, default_value_t = crate::models::neural::DEFAULT_BATCH_TOKENS)]
    pub batch_tokens: usize,
    /// GGUF files: quantized (default; the file's own weights on the CPU, as llama.cpp computes
    /// them, without libtorch) or f32 (dequantized through libtorch, as transformers computes
    /// them).
    #[arg(long, value_parser = closed::<Compute>(&["quantized", "f32"]))]
    pub compute: Option<Compute>,
}

pub fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    s.parse()
}

impl RuntimeArgs {
    /// Neural options with these runtime settings and every other field at its default.
    pub fn options(&self) -> NeuralOptions {
        NeuralOptions {
            device: self.device,
            dtype: self.dtype,
            batch_tokens: self.batch_tokens,
            compute: self.compute,
            ..Default::default()
        }
    }
}

/// The closed lists of the window options of `perplexity`.
pub fn windows_parser() -> impl TypedValueParser<Value = Windows> {
    closed::<Windows>(&["rolling", "llama-perplexity"])
}

pub fn pll_parser() -> impl TypedValueParser<Value = PllVariant> {
    closed::<PllVariant>(&["original", "word-l2r"])
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every subcommand says what it does; `--help` is the manual a user reads
    /// first.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_hide_set() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&crate::cli::Cli::command(), "lmgauge", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn closed_lists_refuse_a_typo_before_anything_runs() {
        use clap::Parser;
        let parse = |args: &[&str]| crate::cli::Cli::try_parse_from([&["lmgauge"], args].concat());
        let err = parse(&["perplexity", "-m", "x", "-i", "y", "--dtype", "fp16"]).unwrap_err().to_string();
        assert!(err.contains("fp16") && err.contains("bf16"), "{err}");
        let err = parse(&["perplexity", "-m", "x", "-i", "y", "--device", "gpu"]).unwrap_err().to_string();
        assert!(err.contains("cuda:N"), "{err}");
        assert!(parse(&["perplexity", "-m", "x", "-i", "y", "--device", "cuda:1"]).is_ok());
        let err = parse(&["generate", "-m", "x", "--prompt", "a", "--strategy", "beam"]).unwrap_err().to_string();
        assert!(err.contains("sample"), "{err}");
        let err = parse(&["bleu", "-r", "r", "--tokenize", "13b"]).unwrap_err().to_string();
        assert!(err.contains("intl"), "{err}");
    }
}
