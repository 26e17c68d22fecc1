//! Builds without the `torch` feature: neural kinds parse and validate, and loading one says that
//! this build cannot run it.

use std::path::Path;
use std::sync::Arc;

use super::{Family, NeuralError, NeuralOptions};
use crate::models::LanguageModel;

pub fn load(_family: Family, _path: &Path, _options: &NeuralOptions) -> Result<Arc<dyn LanguageModel>, NeuralError> {
    Err(NeuralError::NotEnabled)
}

pub fn cuda_device_count() -> usize {
    0
}
