//! BERTScore (Zhang et al., 2020) as the `bert-score` package computes it from one layer's
//! token embeddings: each token matched to its most similar token of the other text by cosine
//! similarity, precision averaging over the candidate's tokens and recall over the reference's,
//! each token weighed by its inverse document frequency in the references (or equally), `[CLS]`
//! and `[SEP]` weighed 0 but still matchable. No baseline rescaling.
//!
//! bert-score's quirks kept: a candidate or reference with no weighted token (empty after
//! stripping) scores 0, and an F1 of 0/0 is 0. With several references each of P, R and F1 is
//! its own maximum over them (`score(cands, [[refs…]])` takes the column-wise max). One
//! difference: bert-score pads a batch's embeddings and multiplies the padded similarities by
//! 0, so a token whose best match is negative could take 0 from padding; the maximum here is over
//! real tokens only (BERT's similarities are positive in practice, and the parity test checks).

use std::collections::HashMap;

use crate::models::TokenEmbeddings;

/// Precision, recall and F1 of one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// How tokens are weighed: equally, or by idf over a set of references.
#[derive(Debug, Clone)]
pub enum Weights {
    Uniform,
    /// bert-score's `get_idf_dict`: `ln((M + 1) / (df + 1))` for a token in `df` of the `M`
    /// references, `ln(M + 1)` for one in none.
    Idf {
        documents: usize,
        frequency: HashMap<i64, usize>,
    },
}

impl Weights {
    /// idf over `references`, each the token ids of one reference as the encoder reads it
    /// (special tokens included; they weigh 0 anyway).
    pub fn idf<'a>(references: impl IntoIterator<Item = &'a [i64]>) -> Weights {
        let mut frequency: HashMap<i64, usize> = HashMap::new();
        let mut documents = 0;
        for ids in references {
            documents += 1;
            let mut seen: Vec<i64> = ids.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                *frequency.entry(id).or_default() += 1;
            }
        }
        Weights::Idf { documents, frequency }
    }

    fn weight(&self, id: i64) -> f64 {
        match self {
            Weights::Uniform => 1.0,
            Weights::Idf { documents, frequency } => {
                let df = frequency.get(&id).copied().unwrap_or(0);
                ((*documents as f64 + 1.0) / (df as f64 + 1.0)).ln()
            }
        }
    }
}

/// A text ready to match: its tokens and unit-length rows (normalised in f64, kept in f32 as
/// bert-score keeps them).
#[derive(Debug, Clone)]
pub struct Matchable {
    ids: Vec<i64>,
    special: Vec<bool>,
    dim: usize,
    unit: Vec<f32>,
}

impl From<TokenEmbeddings> for Matchable {
    fn from(mut text: TokenEmbeddings) -> Matchable {
        let dim = text.dim.max(1);
        for row in text.vectors.chunks_mut(dim) {
            let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            row.iter_mut().for_each(|v| *v = (f64::from(*v) / norm) as f32);
        }
        Matchable { ids: text.ids, special: text.special, dim, unit: text.vectors }
    }
}

impl Matchable {
    /// Each token's share of the text's weight (special tokens 0); None when nothing weighs.
    fn shares(&self, weights: &Weights) -> Option<Vec<f64>> {
        let raw: Vec<f64> =
            self.ids.iter().zip(&self.special).map(|(&id, &s)| if s { 0.0 } else { weights.weight(id) }).collect();
        let total: f64 = raw.iter().sum();
        (total > 0.0).then(|| raw.into_iter().map(|w| w / total).collect())
    }

    fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.unit.chunks_exact(self.dim)
    }
}

/// BERTScore of a candidate against one reference.
pub fn score(candidate: &Matchable, reference: &Matchable, weights: &Weights) -> Prf {
    let (Some(cw), Some(rw)) = (candidate.shares(weights), reference.shares(weights)) else {
        return Prf::default();
    };
    let mut best_for_candidate = vec![f64::NEG_INFINITY; cw.len()];
    let mut best_for_reference = vec![f64::NEG_INFINITY; rw.len()];
    for (i, ci) in candidate.rows().enumerate() {
        for (j, rj) in reference.rows().enumerate() {
            let sim = dot(ci, rj);
            best_for_candidate[i] = best_for_candidate[i].max(sim);
            best_for_reference[j] = best_for_reference[j].max(sim);
        }
    }
    let precision: f64 = best_for_candidate.iter().zip(&cw).map(|(s, w)| s * w).sum();
    let recall: f64 = best_for_reference.iter().zip(&rw).map(|(s, w)| s * w).sum();
    let f1 = 2.0 * precision * recall / (precision + recall);
    Prf { precision, recall, f1: if f1.is_nan() { 0.0 } else { f1 } }
}

/// A dot product in f32, as bert-score's `bmm` computes the similarities, over eight lanes the
/// compiler vectorises (the matching is otherwise most of a judge's time).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    f64::from(lanes.iter().sum::<f32>() + tail)
}

/// BERTScore against several references: each of P, R and F1 its own maximum, as bert-score
/// scores a candidate with a list of references. No references: None.
pub fn score_max<'a>(
    candidate: &Matchable,
    references: impl IntoIterator<Item = &'a Matchable>,
    weights: &Weights,
) -> Option<Prf> {
    references.into_iter().map(|r| score(candidate, r, weights)).reduce(|a, b| Prf {
        precision: a.precision.max(b.precision),
        recall: a.recall.max(b.recall),
        f1: a.f1.max(b.f1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ids: &[i64], rows: &[[f32; 2]]) -> Matchable {
        Matchable::from(TokenEmbeddings {
            ids: ids.to_vec(),
            special: ids.iter().map(|&i| i == 101 || i == 102).collect(),
            dim: 2,
            vectors: rows.iter().flatten().copied().collect(),
            truncated: false,
        })
    }

    #[test]
    fn greedy_matching_by_hand() {
        // Candidate tokens along x and y; the reference's one content token at 45°.
        let c = text(&[101, 7, 8, 102], &[[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
        let r = text(&[101, 9, 102], &[[1.0, 1.0], [3.0, 3.0], [1.0, 1.0]]);
        let s = score(&c, &r, &Weights::Uniform);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!((s.precision - h).abs() < 1e-7, "{s:?}");
        // The reference token's best match is the candidate's [CLS] (similarity 1), which counts
        // although [CLS] weighs nothing. (Unit rows are kept in f32, as bert-score keeps them.)
        assert!((s.recall - 1.0).abs() < 1e-7, "{s:?}");
        assert!((s.f1 - 2.0 * h / (1.0 + h)).abs() < 1e-7, "{s:?}");
    }

    #[test]
    fn idf_is_bert_scores_formula_and_empty_texts_score_zero() {
        let refs: [&[i64]; 3] = [&[101, 5, 5, 6, 102], &[101, 5, 102], &[101, 102]];
        let w = Weights::idf(refs);
        assert!((w.weight(5) - (4.0f64 / 3.0).ln()).abs() < 1e-15);
        assert!((w.weight(6) - 2.0f64.ln()).abs() < 1e-15);
        assert!((w.weight(77) - 4.0f64.ln()).abs() < 1e-15);
        let empty = text(&[101, 102], &[[1.0, 0.0], [0.0, 1.0]]);
        let c = text(&[101, 5, 102], &[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(score(&empty, &c, &w), Prf::default());
        assert_eq!(score(&c, &empty, &w), Prf::default());
    }

    #[test]
    fn several_references_take_each_part_s_own_maximum() {
        let c = text(&[101, 5, 6, 102], &[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]);
        let a = text(&[101, 5, 102], &[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]);
        let b = text(&[101, 6, 6, 102], &[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]);
        let sa = score(&c, &a, &Weights::Uniform);
        let sb = score(&c, &b, &Weights::Uniform);
        let m = score_max(&c, [&a, &b], &Weights::Uniform).unwrap();
        assert_eq!(m.precision, sa.precision.max(sb.precision));
        assert_eq!(m.recall, sa.recall.max(sb.recall));
        assert_eq!(m.f1, sa.f1.max(sb.f1));
        assert!(score_max(&c, [], &Weights::Uniform).is_none());
    }
}
