//! Errors of the DINOv2 port: loading problems (from the shared loader) and bad inputs.

use std::path::PathBuf;

use adt_models_common::LoadError;

/// Why a DINOv2 model could not be built, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Dinov2Error {
    /// A file, config key, checkpoint key or tensor shape was wrong (names the file/key).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The config describes an architecture this port does not implement.
    #[error("{path}: unsupported DINOv2 config: {message}")]
    Config { path: PathBuf, message: String },
    /// An original-layout variant name that is not one of the published models.
    #[error("unknown DINOv2 variant `{name}`; known variants: {known}")]
    UnknownVariant { name: String, known: String },
    /// An original-layout checkpoint whose keys cannot be converted.
    #[error("{path}: original DINOv2 checkpoint: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The input tensor cannot be fed to this model (channels, size, tap index, ...).
    #[error("invalid DINOv2 input: {0}")]
    Input(String),
}
