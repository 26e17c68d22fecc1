//! `lmgauge perplexity`: one-off perplexity of a text file under one model, with the
//! lm-evaluation-harness forms (token, word, byte perplexity, bits per byte).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::json;

use crate::data::{self, DatasetSpec, FieldMap, Format, Unit};
use crate::error::Error;
use crate::metrics::perplexity::PerplexityCounts;
use crate::metrics::Metric;
use crate::models::ngram::NgramModel;
use crate::models::LanguageModel;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// An ARPA back-off model (plain or gzip).
    Ngram,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    Line,
    Document,
    File,
}

#[derive(Debug, Args)]
pub struct PerplexityArgs {
    /// The model: an ARPA file (.arpa or .arpa.gz).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, value_enum, default_value = "ngram")]
    pub kind: Kind,
    /// Text to score (text, JSONL, CSV or Parquet by extension; the `text` field for records).
    #[arg(long, short = 'i')]
    pub input: PathBuf,
    /// How a text file divides into independently scored items.
    #[arg(long, value_enum, default_value = "line")]
    pub unit: UnitArg,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PerplexityArgs) -> Result<i32, Error> {
    let model: Box<dyn LanguageModel> = match args.kind {
        Kind::Ngram => Box::new(NgramModel::from_arpa(&args.model)?),
    };
    let format = Format::from_path(&args.input);
    let unit = match args.unit {
        UnitArg::Line => Unit::Line,
        UnitArg::Document => Unit::Document,
        UnitArg::File => Unit::File,
    };
    let spec = DatasetSpec { path: args.input.clone(), format, unit, fields: FieldMap::default(), limit: None };
    let items = data::load(&spec)?;
    let scored: Vec<(PerplexityCounts, usize)> = items
        .par_iter()
        .map(|item| model.score_tokens(&item.text).map(|s| (PerplexityCounts::from_scores(&item.text, &s), s.oov)))
        .collect::<Result<_, _>>()?;
    let mut total = PerplexityCounts::default();
    let mut oov = 0;
    for (c, o) in &scored {
        total.add(c);
        oov += o;
    }
    let value = |m: Metric| total.metric(m);
    if args.json {
        let v = json!({
            "model": args.model.display().to_string(),
            "items": items.len(),
            "tokens": total.tokens, "words": total.words, "bytes": total.bytes, "oov": oov, "nll": total.nll,
            "token_perplexity": value(Metric::TokenPerplexity),
            "word_perplexity": value(Metric::WordPerplexity),
            "byte_perplexity": value(Metric::BytePerplexity),
            "bits_per_byte": value(Metric::BitsPerByte),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("serializable"));
    } else {
        println!("{}", model.describe());
        println!("items {}  tokens {}  words {}  bytes {}  oov {}", items.len(), total.tokens, total.words, total.bytes, oov);
        for m in Metric::PERPLEXITY {
            println!("{:<17} {:.6}", m.name(), value(*m));
        }
    }
    Ok(0)
}
