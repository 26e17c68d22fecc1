//! `lmgauge ngram train`, `build` and `query`: lmplz, KenLM's `build_binary` and `query` as
//! subcommands.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::vocabulary::{JsonArg, print_json};
use crate::error::Error;
use crate::models::ngram::adapter::open_query_lm;
use crate::models::ngram::arpa::{read_arpa_file, write_arpa_file};
use crate::models::ngram::{Corpus, QueryLm, SpecialSymbols, TrainOptions, estimate};

#[derive(Debug, Subcommand)]
pub enum NgramCommand {
    /// Train an interpolated modified Kneser-Ney model (KenLM lmplz compatible) and write ARPA.
    Train(TrainArgs),
    /// Write an ARPA model's query tables as a binary file that loads in milliseconds (memory
    /// mapped), as KenLM's build_binary does for KenLM; every command that takes an ARPA file
    /// takes the binary file too.
    Build(BuildArgs),
    /// Score a text file (one sentence per line) with an ARPA or binary model, as KenLM's query does.
    Query(QueryArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The ARPA file to convert (plain or gzip).
    #[arg(long, short = 'm', alias = "arpa", value_name = "FILE")]
    pub model: PathBuf,
    /// Where to write the binary file (by convention with the extension .lmgauge-ngram).
    #[arg(long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model order, 1 to 64 (`-o` as in KenLM's lmplz).
    #[arg(long, short = 'o', value_parser = clap::value_parser!(u8).range(1..=crate::models::ngram::arpa::MAX_ORDER as i64))]
    pub order: u8,
    /// Training text: one sentence per line, words separated by whitespace.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the ARPA file (plain text).
    #[arg(long, alias = "arpa", value_name = "FILE")]
    pub output: PathBuf,
    /// Substitute discounts when the closed-form estimate fails: up to three values for adjusted
    /// counts 1, 2 and 3+ (default 0.5 1 1.5).
    #[arg(long, num_args = 0..=3, value_name = "D")]
    pub discount_fallback: Option<Vec<f32>>,
    /// Prune n-grams whose count is at most the threshold, one value per order starting with
    /// unigrams (which must be 0); the last value applies to higher orders. E.g. `--prune 0 0 1`.
    #[arg(long, num_args = 1.., value_name = "N")]
    pub prune: Vec<u64>,
    /// Treat literal <s>, </s> and <unk> in the text as whitespace instead of failing.
    #[arg(long)]
    pub skip_symbols: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// An ARPA file (plain or gzip) or a binary file from `lmgauge ngram build`.
    #[arg(long, short = 'm', alias = "arpa", value_name = "FILE")]
    pub model: PathBuf,
    /// Text to score, one sentence per line.
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(cmd: NgramCommand) -> Result<i32, Error> {
    match cmd {
        NgramCommand::Train(args) => train(args),
        NgramCommand::Build(args) => build(args),
        NgramCommand::Query(args) => query(args),
    }
}

fn build(args: BuildArgs) -> Result<i32, Error> {
    let model = read_arpa_file(&args.model)?;
    let lm = QueryLm::new(&model);
    lm.write_binary(&args.output)?;
    let size = std::fs::metadata(&args.output).map_err(|e| Error::io(&args.output, e))?.len();
    let mut err = std::io::stderr().lock();
    let counts: Vec<String> = model.orders.iter().map(|t| t.len().to_string()).collect();
    let _ = writeln!(
        err,
        "{}-gram model, {} words, n-grams per order {}: wrote {} ({:.1} MB)",
        lm.order(),
        lm.vocab_size(),
        counts.join(" "),
        args.output.display(),
        size as f64 / 1e6
    );
    Ok(0)
}

fn train(args: TrainArgs) -> Result<i32, Error> {
    let specials = if args.skip_symbols { SpecialSymbols::Skip } else { SpecialSymbols::Reject };
    let discount_fallback =
        args.discount_fallback.as_deref().map(crate::models::ngram::fallback_from).transpose().map_err(Error::Usage)?;
    let options = TrainOptions { order: args.order.into(), discount_fallback, prune: args.prune };
    let corpus = Corpus::read(&args.input, specials)?;
    let (model, discounts) = estimate(&corpus, &options)?;
    write_arpa_file(&model, &args.output)?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} words, {} types", corpus.word_count, corpus.vocab.len());
    for (k, (table, d)) in model.orders.iter().zip(&discounts).enumerate() {
        let _ = writeln!(err, "order {}: {} n-grams, D1={} D2={} D3+={}", k + 1, table.len(), d.0[1], d.0[2], d.0[3]);
    }
    let _ = writeln!(err, "wrote {}", args.output.display());
    Ok(0)
}

fn query(args: QueryArgs) -> Result<i32, Error> {
    let lm = open_query_lm(&args.model)?;
    let stats = score_file(&lm, &args.input)?;
    if args.json.json {
        print_json("ngram query", serde_json::to_value(&stats).expect("query statistics serialize"));
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Perplexity including OOVs:\t{}\nPerplexity excluding OOVs:\t{}\nOOVs:\t{}\nTokens:\t{}",
            stats.perplexity_including_oov, stats.perplexity_excluding_oov, stats.oov, stats.tokens
        );
    }
    Ok(0)
}

/// Scores a text file a block of lines at a time, so memory stays the model's and a block's,
/// whatever the file's size (KenLM's query streams its input too). The lines are those of
/// `text.strip_suffix('\n').split('\n')`: an empty file is one empty sentence.
fn score_file(lm: &QueryLm, path: &std::path::Path) -> Result<crate::models::ngram::QueryStats, Error> {
    use std::io::BufRead;
    const BLOCK: usize = 1 << 20;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = std::io::BufReader::with_capacity(BLOCK, file);
    let mut stats = crate::models::ngram::QueryStats::default();
    let (mut block, mut lines_before, mut any) = (Vec::with_capacity(BLOCK), 0usize, false);
    loop {
        block.clear();
        while block.len() < BLOCK {
            if reader.read_until(b'\n', &mut block).map_err(|e| Error::io(path, e))? == 0 {
                break;
            }
        }
        if block.is_empty() {
            break;
        }
        any = true;
        // The block's line numbers, moved past the blocks before it.
        let text = crate::data::utf8_or_error(path, &block).map_err(|e| match e {
            crate::data::DataError::Utf8 { path, line } => {
                crate::data::DataError::Utf8 { path, line: lines_before + line }
            }
            other => other,
        })?;
        lines_before += text.matches('\n').count();
        lm.add_lines(text.split_terminator('\n'), &mut stats);
    }
    if !any {
        lm.add_lines(std::iter::once(""), &mut stats);
    }
    stats.finish();
    Ok(stats)
}
