//! BERTScore judges of rated outputs (`kind: encoder`): every output matched against its item's
//! references with one encoder layer's token embeddings, giving three judges — precision, recall
//! and F1 — from one pass of the encoder.
//!
//! idf weights, when asked for, count each reference of each item once (what bert-score's
//! `get_idf_dict` computes given the references of the rated items, one per item and
//! reference; bert-score's own `score(…, idf=True)` would count a reference once per output
//! compared with it). Items are embedded a few at a time, so memory stays that of a few items'
//! references and outputs however large the dataset.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::metrics::bertscore::{self, Matchable, Weights};
use crate::models::TokenEmbedder;
use crate::tasks::ratings::Ratings;

/// The score names one encoder judge gives each output.
pub const VARIANTS: [&str; 3] = ["bertscore_precision", "bertscore_recall", "bertscore_f1"];

/// Items embedded together: enough texts to fill the encoder's batches, few enough that their
/// embeddings stay small.
const ITEMS_PER_PASS: usize = 16;

/// Each output's scores by name, in the order of `r.outputs`, and notes for the log.
pub type Scored = (Vec<BTreeMap<String, f64>>, Vec<String>);

/// Each output's BERTScore (`VARIANTS`), in the order of `r.outputs`, and notes for the log.
pub fn scores(
    id: &str,
    embedder: &dyn TokenEmbedder,
    idf: bool,
    r: &Ratings,
    advance: &(dyn Fn(u64) + Sync),
) -> Result<Scored, String> {
    let weights = if idf {
        let texts: Vec<&str> = r.segments.iter().flat_map(|s| s.references.iter().map(String::as_str)).collect();
        let ids = embedder.token_ids(&texts).map_err(|e| format!("tokenizing the references: {e}"))?;
        Weights::idf(ids.iter().map(Vec::as_slice))
    } else {
        Weights::Uniform
    };
    let mut by_item: Vec<Vec<usize>> = vec![Vec::new(); r.segments.len()];
    for (k, o) in r.outputs.iter().enumerate() {
        by_item[o.segment].push(k);
    }
    let mut out: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); r.outputs.len()];
    let (mut cut_references, mut cut_outputs) = (0, 0);
    for first in (0..r.segments.len()).step_by(ITEMS_PER_PASS) {
        let items = first..(first + ITEMS_PER_PASS).min(r.segments.len());
        let reference_texts: Vec<&str> =
            items.clone().flat_map(|s| r.segments[s].references.iter().map(String::as_str)).collect();
        let embedded = embedder.embed(&reference_texts).map_err(|e| format!("embedding references: {e}"))?;
        cut_references += embedded.iter().filter(|e| e.truncated).count();
        let mut references: Vec<Vec<Matchable>> = Vec::with_capacity(items.len());
        let mut embedded = embedded.into_iter();
        for s in items.clone() {
            references.push(embedded.by_ref().take(r.segments[s].references.len()).map(Matchable::from).collect());
        }
        let outputs: Vec<usize> = items.clone().flat_map(|s| by_item[s].iter().copied()).collect();
        let texts: Vec<&str> = outputs.iter().map(|&k| r.outputs[k].text.as_str()).collect();
        let embedded = embedder.embed(&texts).map_err(|e| format!("embedding outputs: {e}"))?;
        cut_outputs += embedded.iter().filter(|e| e.truncated).count();
        let scored: Vec<(usize, bertscore::Prf)> = outputs
            .par_iter()
            .zip(embedded)
            .map(|(&k, e)| {
                let o = &r.outputs[k];
                let candidate = Matchable::from(e);
                // A reference judged as a system is compared with the item's other references.
                let against = references[o.segment - first].iter().enumerate().filter(|&(i, _)| Some(i) != o.reference);
                bertscore::score_max(&candidate, against.map(|(_, m)| m), &weights).map(|prf| (k, prf)).ok_or_else(
                    || format!("judge {id}: output {} has no reference to compare with", o.key(&r.segments)),
                )
            })
            .collect::<Result<_, _>>()?;
        for (k, prf) in scored {
            out[k] = VARIANTS.iter().map(|v| v.to_string()).zip([prf.precision, prf.recall, prf.f1]).collect();
        }
        advance(outputs.len() as u64);
    }
    let mut notes = Vec::new();
    if cut_references + cut_outputs > 0 {
        notes.push(format!(
            "judge {id}: {cut_references} references and {cut_outputs} outputs are longer than the encoder's positions and were cut to fit (as bert-score cuts them)"
        ));
    }
    Ok((out, notes))
}
