//! `lmgauge generate`: one-off continuations of a prompt (or of each line of a file) by one model —
//! an ARPA n-gram model (word by word from its back-off distribution) or a causal LM (a GGUF
//! file or a Hugging Face folder), greedy or sampled with a seed.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::perplexity::{Kind, infer_kind};
use super::vocabulary::{JsonArg, ModelArg, RuntimeArgs, SeedArg, closed, print_json};
use crate::error::Error;
use crate::models::LanguageModel;
use crate::models::generate::{GenParams, Strategy};
use crate::models::ngram::NgramModel;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// What the model is; default: from the path (an n-gram file → ngram, GGUF or a causal folder
    /// → causal).
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// The prompt to continue.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub prompt: Option<String>,
    /// A file of prompts, one per line.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Tokens to generate at most (words for n-gram models), 1 to 65,536.
    #[arg(long, default_value_t = 32)]
    pub max_new_tokens: usize,
    /// No end-of-text token before this many tokens.
    #[arg(long, default_value_t = 0)]
    pub min_new_tokens: usize,
    /// How the next token is chosen: the most likely one, or sampled with the seed.
    #[arg(long, default_value = "greedy", value_parser = closed::<Strategy>(&["greedy", "sample"]))]
    pub strategy: Strategy,
    /// Sampling temperature (default 1): below 1 sharpens the distribution, above 1 flattens it.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Keep only the k most likely tokens when sampling.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// End the output before this string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    #[command(flatten)]
    pub seed: SeedArg,
    /// Rerun the whole sequence at every step instead of keeping keys and values (neural models;
    /// the same text, slower): for measuring what the cache saves.
    #[arg(long)]
    pub no_kv_cache: bool,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: GenerateArgs) -> Result<i32, Error> {
    use crate::models::neural::{self, Family};
    let strategy = args.strategy;
    if strategy == Strategy::Greedy && (args.temperature.is_some() || args.top_k.is_some() || args.top_p.is_some()) {
        return Err(Error::Usage("--temperature, --top-k and --top-p apply only with --strategy sample".into()));
    }
    let defaults = GenParams::default();
    let params = GenParams {
        max_new_tokens: args.max_new_tokens,
        min_new_tokens: args.min_new_tokens,
        strategy,
        temperature: args.temperature.unwrap_or(defaults.temperature),
        top_k: args.top_k.unwrap_or(defaults.top_k),
        top_p: args.top_p.unwrap_or(defaults.top_p),
        stop: args.stop.clone(),
        seed: args.seed.seed,
        kv_cache: !args.no_kv_cache,
        first_index: 0,
    };
    params.check().map_err(Error::Usage)?;
    let prompts: Vec<String> = match (&args.prompt, &args.input) {
        (Some(p), _) => vec![p.clone()],
        (None, Some(path)) => {
            let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let text = String::from_utf8(text).map_err(|e| {
                let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                Error::Usage(format!("{}:{line}: invalid UTF-8", path.display()))
            })?;
            text.lines().map(str::to_owned).collect()
        }
        (None, None) => return Err(Error::Usage("give --prompt TEXT or --input FILE".into())),
    };
    let path = &args.model.model;
    let kind = match args.kind {
        Some(k) => k,
        None => infer_kind(path)?,
    };
    let loading = std::time::Instant::now();
    tracing::info!("model {}: loading", path.display());
    let model: std::sync::Arc<dyn LanguageModel> = match kind {
        Kind::Ngram => std::sync::Arc::new(NgramModel::from_arpa(path)?),
        Kind::Causal => {
            neural::load_linked(Family::Causal, path, &args.runtime.options()).map_err(|e| Error::Model(e.into()))?
        }
        Kind::Masked => {
            return Err(Error::Usage(format!(
                "{}: a masked LM does not generate text (it scores by pseudo-log-likelihood)",
                path.display()
            )));
        }
    };
    tracing::info!(
        "model loaded in {:.1}s: {}; {} prompts",
        loading.elapsed().as_secs_f64(),
        model.describe(),
        prompts.len()
    );
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let generations = model.generate(&refs, &params)?;
    if args.json.json {
        let v: Vec<_> = prompts
            .iter()
            .zip(&generations)
            .map(|(p, g)| json!({"prompt": p, "text": g.text, "tokens": g.tokens, "finish": g.finish, "token_ids": g.token_ids}))
            .collect();
        print_json("generate", json!({"model": model.describe(), "generations": v}));
    } else {
        // One line per prompt: newlines inside an output are written as \n, and other control
        // characters (a model can write an escape sequence) as \u{…}, never raw.
        for g in &generations {
            let line = g.text.replace('\\', "\\\\").replace('\n', "\\n");
            println!("{}", crate::store::format::terminal_safe(&line));
        }
    }
    Ok(0)
}
