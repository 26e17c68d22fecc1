//! Metrics as pure functions, and the metadata every metric carries.
//!
//! Names follow the ecosystem (lm-evaluation-harness for perplexities); each metric declares
//! whether higher is better, which the reports and gates read instead of guessing.

pub mod bertscore;
pub mod bleu;
pub mod chrf;
pub mod correlation;
pub mod divergence;
pub mod mcnemar;
pub mod perplexity;
pub mod porter;
pub mod rouge;
pub mod stats;

use std::fmt;
use std::str::FromStr;

/// Every metric lmgauge can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    TokenPerplexity,
    WordPerplexity,
    BytePerplexity,
    BitsPerByte,
    /// The perplexity forms of a masked LM's pseudo-log-likelihood (Salazar et al., 2020): reported
    /// under their own names so that they never sit in one ranking with causal perplexities.
    PseudoPerplexity,
    PseudoWordPerplexity,
    PseudoBytePerplexity,
    PseudoBitsPerByte,
    Bleu,
    Chrf,
    ChrfPlusPlus,
    Rouge1,
    Rouge2,
    RougeL,
    RougeLsum,
    Accuracy,
    AccuracyTiesHalf,
    TieRate,
    LengthCorrelation,
    /// lm-evaluation-harness's multiple-choice `acc` and `acc_norm` (log-likelihood per character).
    Acc,
    AccNorm,
    /// A model's next-token distributions against a base model's (llama-perplexity's
    /// `--kl-divergence`): mean and percentiles of the per-token KL divergence, the rate of
    /// agreeing top tokens, the ratio of perplexities, the RMS change of the next token's
    /// probability.
    KlDivergence,
    KlDivergenceMedian,
    KlDivergenceP90,
    KlDivergenceP99,
    KlDivergenceP999,
    KlDivergenceMax,
    Top1Agreement,
    PerplexityRatio,
    DeltaPRms,
    /// Agreement of a judge with human ratings (human-agreement tasks), by level: `seg_` over
    /// every rated output, `item_` per item (a segment or document: SummEval's summary level)
    /// then the mean, `sys_` over the systems' scores; `darr_tau_like` over WMT's better/worse
    /// pairs.
    SegKendall,
    SegSpearman,
    SegPearson,
    SegAccEq,
    ItemKendall,
    ItemSpearman,
    ItemPearson,
    SysKendall,
    SysSpearman,
    SysPearson,
    SysAccuracy,
    DarrTauLike,
}

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::TokenPerplexity,
        Metric::WordPerplexity,
        Metric::BytePerplexity,
        Metric::BitsPerByte,
        Metric::PseudoPerplexity,
        Metric::PseudoWordPerplexity,
        Metric::PseudoBytePerplexity,
        Metric::PseudoBitsPerByte,
        Metric::Bleu,
        Metric::Chrf,
        Metric::ChrfPlusPlus,
        Metric::Rouge1,
        Metric::Rouge2,
        Metric::RougeL,
        Metric::RougeLsum,
        Metric::Accuracy,
        Metric::AccuracyTiesHalf,
        Metric::TieRate,
        Metric::LengthCorrelation,
        Metric::Acc,
        Metric::AccNorm,
        Metric::KlDivergence,
        Metric::KlDivergenceMedian,
        Metric::KlDivergenceP90,
        Metric::KlDivergenceP99,
        Metric::KlDivergenceP999,
        Metric::KlDivergenceMax,
        Metric::Top1Agreement,
        Metric::PerplexityRatio,
        Metric::DeltaPRms,
        Metric::SegKendall,
        Metric::SegSpearman,
        Metric::SegPearson,
        Metric::SegAccEq,
        Metric::ItemKendall,
        Metric::ItemSpearman,
        Metric::ItemPearson,
        Metric::SysKendall,
        Metric::SysSpearman,
        Metric::SysPearson,
        Metric::SysAccuracy,
        Metric::DarrTauLike,
    ];
    pub const HUMAN_AGREEMENT: &'static [Metric] = &[
        Metric::SegKendall,
        Metric::SegSpearman,
        Metric::SegPearson,
        Metric::SegAccEq,
        Metric::ItemKendall,
        Metric::ItemSpearman,
        Metric::ItemPearson,
        Metric::SysKendall,
        Metric::SysSpearman,
        Metric::SysPearson,
        Metric::SysAccuracy,
        Metric::DarrTauLike,
    ];
    pub const DIVERGENCE: &'static [Metric] = &[
        Metric::KlDivergence,
        Metric::KlDivergenceMedian,
        Metric::KlDivergenceP90,
        Metric::KlDivergenceP99,
        Metric::KlDivergenceP999,
        Metric::KlDivergenceMax,
        Metric::Top1Agreement,
        Metric::PerplexityRatio,
        Metric::DeltaPRms,
        Metric::TokenPerplexity,
    ];
    pub const PREFERENCE: &'static [Metric] =
        &[Metric::Accuracy, Metric::AccuracyTiesHalf, Metric::TieRate, Metric::LengthCorrelation];
    pub const PERPLEXITY: &'static [Metric] =
        &[Metric::TokenPerplexity, Metric::WordPerplexity, Metric::BytePerplexity, Metric::BitsPerByte];
    pub const REFERENCE: &'static [Metric] = &[
        Metric::Bleu,
        Metric::Chrf,
        Metric::ChrfPlusPlus,
        Metric::Rouge1,
        Metric::Rouge2,
        Metric::RougeL,
        Metric::RougeLsum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::TokenPerplexity => "token_perplexity",
            Metric::WordPerplexity => "word_perplexity",
            Metric::BytePerplexity => "byte_perplexity",
            Metric::BitsPerByte => "bits_per_byte",
            Metric::PseudoPerplexity => "pseudo_perplexity",
            Metric::PseudoWordPerplexity => "pseudo_word_perplexity",
            Metric::PseudoBytePerplexity => "pseudo_byte_perplexity",
            Metric::PseudoBitsPerByte => "pseudo_bits_per_byte",
            Metric::Bleu => "bleu",
            Metric::Chrf => "chrf",
            Metric::ChrfPlusPlus => "chrf++",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeL => "rougeL",
            Metric::RougeLsum => "rougeLsum",
            Metric::Accuracy => "accuracy",
            Metric::AccuracyTiesHalf => "accuracy_ties_half",
            Metric::TieRate => "tie_rate",
            Metric::LengthCorrelation => "length_correlation",
            Metric::Acc => "acc",
            Metric::AccNorm => "acc_norm",
            Metric::KlDivergence => "kl_divergence",
            Metric::KlDivergenceMedian => "kl_divergence_median",
            Metric::KlDivergenceP90 => "kl_divergence_p90",
            Metric::KlDivergenceP99 => "kl_divergence_p99",
            Metric::KlDivergenceP999 => "kl_divergence_p99_9",
            Metric::KlDivergenceMax => "kl_divergence_max",
            Metric::Top1Agreement => "top1_agreement",
            Metric::PerplexityRatio => "perplexity_ratio",
            Metric::DeltaPRms => "delta_p_rms",
            Metric::SegKendall => "seg_kendall",
            Metric::SegSpearman => "seg_spearman",
            Metric::SegPearson => "seg_pearson",
            Metric::SegAccEq => "seg_acc_eq",
            Metric::ItemKendall => "item_kendall",
            Metric::ItemSpearman => "item_spearman",
            Metric::ItemPearson => "item_pearson",
            Metric::SysKendall => "sys_kendall",
            Metric::SysSpearman => "sys_spearman",
            Metric::SysPearson => "sys_pearson",
            Metric::SysAccuracy => "sys_accuracy",
            Metric::DarrTauLike => "darr_tau_like",
        }
    }

    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::TokenPerplexity | Metric::WordPerplexity | Metric::BytePerplexity | Metric::BitsPerByte => false,
            Metric::PseudoPerplexity
            | Metric::PseudoWordPerplexity
            | Metric::PseudoBytePerplexity
            | Metric::PseudoBitsPerByte => false,
            // Fewer ties and less dependence on length are better in a judge.
            Metric::TieRate | Metric::LengthCorrelation => false,
            Metric::KlDivergence
            | Metric::KlDivergenceMedian
            | Metric::KlDivergenceP90
            | Metric::KlDivergenceP99
            | Metric::KlDivergenceP999
            | Metric::KlDivergenceMax
            | Metric::PerplexityRatio
            | Metric::DeltaPRms => false,
            _ => true,
        }
    }

    /// Metrics that describe rather than rank (a judge's correlation with length): reports do not
    /// mark a best model and gates do not judge their changes.
    pub fn is_descriptive(self) -> bool {
        matches!(self, Metric::LengthCorrelation)
    }
}

impl Metric {
    /// The name a perplexity metric reports under for a masked LM (pseudo-log-likelihood).
    pub fn pseudo(self) -> Metric {
        match self {
            Metric::TokenPerplexity => Metric::PseudoPerplexity,
            Metric::WordPerplexity => Metric::PseudoWordPerplexity,
            Metric::BytePerplexity => Metric::PseudoBytePerplexity,
            Metric::BitsPerByte => Metric::PseudoBitsPerByte,
            other => other,
        }
    }

    /// The causal form of a pseudo metric (the same arithmetic on pseudo-log-likelihoods).
    pub fn unpseudo(self) -> Metric {
        match self {
            Metric::PseudoPerplexity => Metric::TokenPerplexity,
            Metric::PseudoWordPerplexity => Metric::WordPerplexity,
            Metric::PseudoBytePerplexity => Metric::BytePerplexity,
            Metric::PseudoBitsPerByte => Metric::BitsPerByte,
            other => other,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| format!("unknown metric {s:?}"))
    }
}

/// Statistics of every system's every segment (`result[system][segment]`), computed segment by
/// segment in parallel: a segment's references (`refs[stream][segment]`) are prepared once,
/// scored against each system's hypothesis, and dropped. Holding every segment's prepared
/// references at once was most of a one-system `lmgauge bleu` call's memory and time.
pub(crate) fn segment_stats_of_systems<P, S: Send>(
    systems: &[&[String]],
    refs: &[Vec<String>],
    prepare: impl Fn(&[&str]) -> P + Sync,
    score: impl Fn(&str, &P) -> S + Sync,
) -> Vec<Vec<S>> {
    use rayon::prelude::*;
    let segments = refs.first().map_or(0, Vec::len);
    let by_segment: Vec<Vec<S>> = (0..segments)
        .into_par_iter()
        .map(|i| {
            let r: Vec<&str> = refs.iter().map(|stream| stream[i].as_str()).collect();
            let prepared = prepare(&r);
            systems.iter().map(|hyps| score(&hyps[i], &prepared)).collect()
        })
        .collect();
    let mut by_system: Vec<Vec<S>> = systems.iter().map(|_| Vec::with_capacity(segments)).collect();
    for row in by_segment {
        for (system, stats) in by_system.iter_mut().zip(row) {
            system.push(stats);
        }
    }
    by_system
}
