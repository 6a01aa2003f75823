//! The error type of this crate: every variant names the file (and field) at fault.

use std::path::PathBuf;

use adt_models_common::LoadError;

/// Why a T5 encoder or tokenizer could not be built, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum T5Error {
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
    /// `tokenizer.json` is missing or malformed, or lacks a token the encoder needs.
    #[error("{path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// The tokenizer failed on an input.
    #[error("T5 tokenizer: {0}")]
    Encode(String),
    /// Input ids of the wrong shape or range.
    #[error("T5 encoder input: {0}")]
    Input(String),
}
