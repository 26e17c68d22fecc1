//! `lmgauge bleu`, `lmgauge chrf` and `lmgauge rouge`: sacrebleu- and rouge-score-compatible
//! scoring from the command line, with paired significance tests between systems.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use super::vocabulary::{JsonArg, SeedArg, named, print_json};
use crate::error::Error;
use crate::metrics::bleu::{BleuConfig, BleuScore, BleuStats, Smooth, Tokenizer};
use crate::metrics::chrf::ChrfConfig;
use crate::metrics::rouge::{RougeScorer, RougeType};
use crate::metrics::stats::{self, ItemStats, PairedResult};

#[derive(Debug, Args)]
pub struct PairedArgs {
    /// Paired bootstrap resampling test of each system against the first -i (sacrebleu's paired-bs).
    #[arg(long, conflicts_with = "paired_ar")]
    pub paired_bs: bool,
    /// Paired approximate randomization test against the first -i (sacrebleu's paired-ar).
    #[arg(long)]
    pub paired_ar: bool,
    /// Resamples (bootstrap, default 1000) or trials (randomization, default 10000); 1 to
    /// 1,000,000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::metrics::stats::MAX_RESAMPLES as u64))]
    pub paired_samples: Option<u64>,
    #[command(flatten)]
    pub seed: SeedArg,
}

/// The references and system outputs of `bleu` and `chrf`.
#[derive(Debug, Args)]
pub struct SystemsArgs {
    /// Reference file (one segment per line); repeat for several reference streams.
    #[arg(short = 'r', long = "reference", required = true, value_name = "FILE")]
    pub references: Vec<PathBuf>,
    /// System output file, line-aligned with the references; repeat to score several systems (the
    /// first is the baseline of paired tests). Without -i, one system is read from standard input.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BleuArgs {
    #[command(flatten)]
    pub systems: SystemsArgs,
    /// Tokenizer applied before matching n-grams (sacrebleu's --tokenize).
    #[arg(long, default_value = "13a", value_parser = named(&["13a", "intl", "char", "none", "zh"], Tokenizer::from_name))]
    pub tokenize: Tokenizer,
    /// Smoothing of zero n-gram counts (sacrebleu's --smooth-method).
    #[arg(long, default_value = "exp", value_parser = named(&["exp", "floor", "add-k", "none"], Smooth::from_name))]
    pub smooth: Smooth,
    /// Smoothing value for floor (default 0.1) or add-k (default 1): a finite number ≥ 0.
    #[arg(long, value_parser = non_negative_finite)]
    pub smooth_value: Option<f64>,
    /// Lowercase hypotheses and references before matching.
    #[arg(long)]
    pub lowercase: bool,
    /// Score every segment on its own (effective order on, as sacrebleu -sl).
    #[arg(long)]
    pub sentence: bool,
    #[command(flatten)]
    pub paired: PairedArgs,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct ChrfArgs {
    #[command(flatten)]
    pub systems: SystemsArgs,
    /// Character n-gram order, 1 to 32.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub char_order: u16,
    /// Word n-gram order, 0 to 8: 2 gives chrF++.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=8))]
    pub word_order: u16,
    /// Weight of recall against precision, 0 to 100.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub beta: u32,
    /// Lowercase hypotheses and references before matching.
    #[arg(long)]
    pub lowercase: bool,
    /// Keep whitespace in character n-grams.
    #[arg(long)]
    pub whitespace: bool,
    /// Epsilon smoothing (chrF++.py, Moses) instead of effective order.
    #[arg(long)]
    pub eps_smoothing: bool,
    /// Score every segment on its own.
    #[arg(long)]
    pub sentence: bool,
    #[command(flatten)]
    pub paired: PairedArgs,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Args)]
pub struct RougeArgs {
    /// Reference file, one text per line; repeat for several references (best F per type).
    #[arg(short = 'r', long = "reference", requires = "inputs", conflicts_with = "jsonl", value_name = "FILE")]
    pub references: Vec<PathBuf>,
    /// Prediction file, one text per line, line-aligned with the references.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub inputs: Option<PathBuf>,
    /// JSON Lines file of pairs; texts may span lines (for rougeLsum), a reference may be a list.
    #[arg(long, required_unless_present = "references", value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// The JSONL field holding the prediction.
    #[arg(long, default_value = "prediction")]
    pub prediction_field: String,
    /// The JSONL field holding the reference (a string or a list of strings).
    #[arg(long, default_value = "reference")]
    pub reference_field: String,
    /// Do not Porter-stem tokens. By default tokens longer than 3 characters are stemmed, as in a
    /// suite's reference and generation tasks (rouge_score's use_stemmer=True; rouge_score's own
    /// default is False).
    #[arg(long)]
    pub no_stem: bool,
    /// Accepted for compatibility: stemming is the default.
    #[arg(long, hide = true, conflicts_with = "no_stem")]
    pub stem: bool,
    /// ROUGE types to compute, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "rouge1,rouge2,rougeL,rougeLsum",
          value_parser = named(&["rouge1", "rouge2", "rougeL", "rougeLsum"], RougeType::from_name))]
    pub types: Vec<RougeType>,
    /// Bootstrap resamples for low/mid/high, 1 to 1,000,000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=crate::metrics::stats::MAX_RESAMPLES as u64))]
    pub bootstrap: u64,
    #[command(flatten)]
    pub seed: SeedArg,
    #[command(flatten)]
    pub json: JsonArg,
}

fn non_negative_finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a finite number ≥ 0")),
    }
}

/// Reads a line-aligned text file; lines keep their content, `\r\n` endings are accepted.
pub fn read_lines(path: &Path) -> Result<Vec<String>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = crate::data::utf8_or_error(path, &bytes)?;
    Ok(split_lines(text))
}

fn split_lines(text: &str) -> Vec<String> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() && text.is_empty() {
        return Vec::new();
    }
    body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect()
}

fn read_stdin_lines() -> Result<Vec<String>, Error> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| Error::io(Path::new("<stdin>"), e))?;
    Ok(split_lines(&s))
}

/// Reads references and systems, refusing files of different lengths.
/// References (one list per line) and each named system's lines.
type Aligned = (Vec<Vec<String>>, Vec<(String, Vec<String>)>);

fn read_aligned(refs: &[PathBuf], inputs: &[PathBuf]) -> Result<Aligned, Error> {
    let references: Vec<Vec<String>> = refs.iter().map(|p| read_lines(p)).collect::<Result<_, _>>()?;
    let systems: Vec<(String, Vec<String>)> = if inputs.is_empty() {
        vec![("<stdin>".to_owned(), read_stdin_lines()?)]
    } else {
        inputs.iter().map(|p| Ok((p.display().to_string(), read_lines(p)?))).collect::<Result<_, Error>>()?
    };
    let n = references[0].len();
    if n == 0 {
        return Err(Error::Usage(format!("{} is empty: a corpus score needs at least one segment", refs[0].display())));
    }
    for (p, r) in refs.iter().zip(&references) {
        if r.len() != n {
            return Err(Error::Usage(format!(
                "{} has {} lines but {} has {n}",
                p.display(),
                r.len(),
                refs[0].display()
            )));
        }
    }
    for (name, s) in &systems {
        if s.len() != n {
            return Err(Error::Usage(format!(
                "{name} has {} lines but the reference {} has {n}",
                s.len(),
                refs[0].display()
            )));
        }
    }
    Ok((references, systems))
}

fn paired(args: &PairedArgs, base: &ItemStats, sys: &ItemStats) -> Option<PairedResult> {
    let mut rng = stats::stream(args.seed.seed, "paired");
    if args.paired_bs {
        Some(stats::paired_bootstrap(base, sys, args.paired_samples.map_or(1000, |n| n as usize), &mut rng))
    } else if args.paired_ar {
        Some(stats::paired_approximate_randomization(
            base,
            sys,
            args.paired_samples.map_or(10_000, |n| n as usize),
            &mut rng,
        ))
    } else {
        None
    }
}

/// Text lines, or one JSON object: `fields` (the metric and its signature) and `systems`.
fn print(command: &str, json_out: bool, mut fields: Value, systems: Vec<Value>, text: Vec<String>) {
    if json_out {
        fields["systems"] = Value::Array(systems);
        print_json(command, fields);
    } else {
        let mut out = std::io::stdout().lock();
        for t in text {
            let _ = writeln!(out, "{t}");
        }
    }
}

fn bleu_json(s: &BleuScore, p: Option<&PairedResult>) -> Value {
    let mut v = json!({
        "score": s.score, "counts": s.counts, "totals": s.totals,
        "precisions": s.precisions, "bp": s.bp, "sys_len": s.sys_len, "ref_len": s.ref_len,
    });
    if let Some(p) = p {
        v["p_value"] = json!(p.p_value);
        v["mean"] = json!(p.mean);
        v["ci"] = json!(p.ci);
    }
    v
}

fn bleu_text(s: &BleuScore) -> String {
    let p: Vec<String> = s.precisions.iter().map(|p| format!("{p:.1}")).collect();
    let ratio = if s.ref_len > 0 { s.sys_len as f64 / s.ref_len as f64 } else { 0.0 };
    format!(
        "BLEU = {:.2} {} (BP = {:.3} ratio = {ratio:.3} hyp_len = {} ref_len = {})",
        s.score,
        p.join("/"),
        s.bp,
        s.sys_len,
        s.ref_len
    )
}

pub fn bleu(args: BleuArgs) -> Result<i32, Error> {
    let (refs, systems) = read_aligned(&args.systems.references, &args.systems.inputs)?;
    let cfg = BleuConfig {
        tokenizer: args.tokenize,
        lowercase: args.lowercase,
        smooth: args.smooth,
        smooth_value: args.smooth_value,
        max_order: 4,
        effective_order: args.sentence,
    };
    let signature = cfg.signature(refs.len());
    let fields = json!({"metric": "BLEU", "signature": signature});
    let (mut values, mut text) = (Vec::new(), Vec::new());
    if args.sentence {
        for (name, hyps) in &systems {
            let mut sentences = Vec::new();
            for s in cfg.corpus_stats(hyps, &refs) {
                let score = cfg.score(&s);
                sentences.push(bleu_json(&score, None));
                text.push(bleu_text(&score));
            }
            values.push(json!({"system": name, "sentences": sentences}));
        }
        print("bleu", args.json.json, fields, values, text);
        return Ok(0);
    }
    let hyps: Vec<&[String]> = systems.iter().map(|(_, h)| h.as_slice()).collect();
    let all_stats = cfg.systems_stats(&hyps, &refs);
    let base = crate::metrics::bleu::item_stats(&cfg, &all_stats[0]);
    for (k, ((name, _), stats)) in systems.iter().zip(&all_stats).enumerate() {
        let mut sum = BleuStats::zero(cfg.max_order);
        stats.iter().for_each(|s| sum.add(s));
        let score = cfg.score(&sum);
        let p = if k > 0 { paired(&args.paired, &base, &crate::metrics::bleu::item_stats(&cfg, stats)) } else { None };
        let mut v = bleu_json(&score, p.as_ref());
        v["system"] = json!(name);
        values.push(v);
        let mut line = format!("{name}: {} {}", signature, bleu_text(&score));
        if let Some(p) = p {
            line.push_str(&format!(" p = {:.4}", p.p_value));
        }
        text.push(line);
    }
    print("bleu", args.json.json, fields, values, text);
    Ok(0)
}

pub fn chrf(args: ChrfArgs) -> Result<i32, Error> {
    let (refs, systems) = read_aligned(&args.systems.references, &args.systems.inputs)?;
    let cfg = ChrfConfig {
        char_order: args.char_order.into(),
        word_order: args.word_order.into(),
        beta: args.beta,
        lowercase: args.lowercase,
        whitespace: args.whitespace,
        eps_smoothing: args.eps_smoothing,
    };
    let (name, signature) = (cfg.name(), cfg.signature(refs.len()));
    let fields = json!({"metric": name, "signature": signature});
    let (mut values, mut text) = (Vec::new(), Vec::new());
    let hyps: Vec<&[String]> = systems.iter().map(|(_, h)| h.as_slice()).collect();
    let all_stats = cfg.systems_stats(&hyps, &refs);
    if args.sentence {
        for ((sys, _), stats) in systems.iter().zip(&all_stats) {
            let mut sentences = Vec::new();
            for s in stats {
                let score = cfg.f_score(s);
                sentences.push(json!({"score": score}));
                text.push(format!("{name} = {score:.4}"));
            }
            values.push(json!({"system": sys, "sentences": sentences}));
        }
        print("chrf", args.json.json, fields, values, text);
        return Ok(0);
    }
    let base = crate::metrics::chrf::item_stats(&cfg, &all_stats[0]);
    for (k, ((sys, _), stats)) in systems.iter().zip(&all_stats).enumerate() {
        let items = crate::metrics::chrf::item_stats(&cfg, stats);
        let score = items.score_all();
        let p = if k > 0 { paired(&args.paired, &base, &items) } else { None };
        let mut v = json!({"system": sys, "score": score});
        let mut line = format!("{sys}: {signature} {name} = {score:.4}");
        if let Some(p) = p {
            v["p_value"] = json!(p.p_value);
            v["mean"] = json!(p.mean);
            v["ci"] = json!(p.ci);
            line.push_str(&format!(" p = {:.4}", p.p_value));
        }
        values.push(v);
        text.push(line);
    }
    print("chrf", args.json.json, fields, values, text);
    Ok(0)
}

/// (references, prediction) pairs from a JSONL file; a reference may be a string or a list.
fn read_jsonl_pairs(path: &Path, pred_field: &str, ref_field: &str) -> Result<Vec<(Vec<String>, String)>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_err =
            |m: String| Error::Data(crate::data::DataError::Line { path: path.to_owned(), line: i + 1, message: m });
        let line = std::str::from_utf8(raw).map_err(|_| line_err("invalid UTF-8".into()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| line_err(format!("invalid JSON: {e}")))?;
        let pred = v
            .get(pred_field)
            .and_then(Value::as_str)
            .ok_or_else(|| line_err(format!("field {pred_field:?} must be a string")))?;
        let refs: Vec<String> = match v.get(ref_field) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| line_err(format!("field {ref_field:?} must hold strings")))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(line_err(format!("field {ref_field:?} must be a string or a non-empty list of strings"))),
        };
        out.push((refs, pred.to_owned()));
    }
    if out.is_empty() {
        return Err(Error::Data(crate::data::DataError::Empty { path: path.to_owned() }));
    }
    Ok(out)
}

pub fn rouge(args: RougeArgs) -> Result<i32, Error> {
    let types = args.types.clone();
    let pairs: Vec<(Vec<String>, String)> = match &args.jsonl {
        Some(p) => read_jsonl_pairs(p, &args.prediction_field, &args.reference_field)?,
        None => {
            let (refs, systems) =
                read_aligned(&args.references, std::slice::from_ref(args.inputs.as_ref().expect("clap requires -i")))?;
            let preds = &systems[0].1;
            (0..preds.len()).map(|i| (refs.iter().map(|r| r[i].clone()).collect(), preds[i].clone())).collect()
        }
    };
    let scorer = RougeScorer { types: types.clone(), stem: !args.no_stem };
    use rayon::prelude::*;
    let scores: Vec<Vec<(RougeType, crate::metrics::rouge::RougeScore)>> = pairs
        .par_iter()
        .map(|(refs, pred)| {
            let r: Vec<&str> = refs.iter().map(String::as_str).collect();
            scorer.score_multi(&r, pred)
        })
        .collect();
    let n = scores.len() as f64;
    let mut out = serde_json::Map::new();
    let mut text = Vec::new();
    let fs: Vec<Vec<f64>> = (0..types.len()).map(|k| scores.iter().map(|s| s[k].1.fmeasure).collect()).collect();
    let series: Vec<&[f64]> = fs.iter().map(Vec::as_slice).collect();
    let intervals = stats::bootstrap_low_mid_high_many(
        &series,
        args.bootstrap as usize,
        &mut stats::stream(args.seed.seed, "rouge"),
    );
    for (k, ty) in types.iter().enumerate() {
        let p = scores.iter().map(|s| s[k].1.precision).sum::<f64>() / n;
        let r = scores.iter().map(|s| s[k].1.recall).sum::<f64>() / n;
        let fm = fs[k].iter().sum::<f64>() / n;
        let (low, mid, high) = intervals[k];
        out.insert(
            ty.name().into(),
            json!({"precision": p, "recall": r, "fmeasure": fm, "low": low, "mid": mid, "high": high}),
        );
        text.push(format!("{}: P {p:.4} R {r:.4} F {fm:.4} (95% {low:.4}–{high:.4})", ty.name()));
    }
    if args.json.json {
        print_json("rouge", json!({"metric": "ROUGE", "stem": !args.no_stem, "scores": Value::Object(out)}));
    } else {
        text.iter().for_each(|t| println!("{t}"));
    }
    Ok(0)
}
