//! The smoothed n-gram family: KenLM-compatible training (`lmplz`), ARPA files and scoring
//! (`query`).
//!
//! `count` reads a corpus and counts padded n-grams, `estimate` turns them into an interpolated
//! modified Kneser-Ney model, `arpa` reads and writes the model as text, `query` scores text with
//! backoff exactly as KenLM's `query` does, and `adapter` plugs the result into the harness as a
//! [`crate::models::LanguageModel`].

pub mod adapter;
pub mod arpa;
pub mod count;
pub mod estimate;
pub mod image;
mod image_build;
pub mod query;
pub mod vocab;

use std::path::{Path, PathBuf};

pub use adapter::NgramModel;
pub use count::{Corpus, SpecialSymbols};
pub use estimate::{DEFAULT_FALLBACK, TrainOptions, estimate, fallback_from};
pub use query::{QueryLm, QueryStats};

/// An n-gram model in ARPA form: what lmplz writes and what `query` loads.
#[derive(Debug, Clone, PartialEq)]
pub struct ArpaModel {
    /// Word of each id; ids index the unigram table.
    pub words: Vec<String>,
    /// `orders[k]` holds the (k+1)-grams.
    pub orders: Vec<OrderTable>,
}

/// The n-grams of one order with their log10 probabilities and (below the top order) backoffs.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTable {
    pub order: usize,
    pub ids: Vec<u32>,
    pub log10_prob: Vec<f32>,
    /// Empty for the highest order.
    pub log10_backoff: Vec<f32>,
}

impl OrderTable {
    pub fn new(order: usize) -> Self {
        OrderTable { order, ids: Vec::new(), log10_prob: Vec::new(), log10_backoff: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.log10_prob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log10_prob.is_empty()
    }

    pub fn gram(&self, i: usize) -> &[u32] {
        &self.ids[i * self.order..(i + 1) * self.order]
    }
}

impl ArpaModel {
    pub fn order(&self) -> usize {
        self.orders.len()
    }
}

/// Everything that can go wrong training, reading or querying an n-gram model.
#[derive(Debug, thiserror::Error)]
pub enum NgramError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Corpus { path: PathBuf, line: usize, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Arpa { path: PathBuf, line: usize, message: String },
    #[error(
        "{message}; pass --discount-fallback (suite: discount_fallback: true) to substitute 0.5 1 1.5 for order {order}"
    )]
    Discount { order: usize, message: String },
    #[error("{}: {message}", path.display())]
    Binary { path: PathBuf, message: String },
    #[error("invalid n-gram options: {0}")]
    Options(String),
}

impl NgramError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        NgramError::Io { path: path.to_owned(), source }
    }
}
