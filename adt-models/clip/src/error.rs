//! The error type of this crate.

use std::path::PathBuf;

use adt_models_common::LoadError;

/// Why a CLIP text encoder or tokenizer could not be built, loaded or run.
///
/// Every variant names the file (and field) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// Resolving or reading a checkpoint file, config or weight failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `config.json` parsed, but a field has a value this port does not support.
    #[error("{path}: config field `{field}`: {message}")]
    Config {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
    /// A tokenizer file is missing, malformed or inconsistent.
    #[error("{path}: {message}")]
    TokenizerFile { path: PathBuf, message: String },
    /// The tokenizer pipeline failed on an input.
    #[error("tokenizer: {0}")]
    Encode(String),
}
