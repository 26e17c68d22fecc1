//! The crate-level error: every library failure, typed, with what the user needs to fix it.

use std::path::{Path, PathBuf};

use crate::data::DataError;
use crate::models::ModelError;
use crate::models::ngram::NgramError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Ngram(#[from] NgramError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_owned(), source }
    }
}
