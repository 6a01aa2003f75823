//! The error type of this crate: every variant names the file, option or input at fault.

use std::path::PathBuf;

use adt_clip::ClipError;
use adt_models_common::LoadError;
use adt_schedulers::{ConfigError, SchedulerError};

/// Why an SD1.5 pipeline could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Sd15Error {
    /// A checkpoint file, config or weight could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The text encoder or tokenizer failed to load or run.
    #[error(transparent)]
    Clip(#[from] ClipError),
    /// `scheduler/scheduler_config.json` is unreadable or asks for an unsupported option.
    #[error(transparent)]
    SchedulerConfig(#[from] ConfigError),
    /// A sampler step was called out of order or with mis-shaped tensors.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The components do not fit together (e.g. the UNet's cross-attention width is not the
    /// text encoder's hidden size).
    #[error("{source_desc}: {message}")]
    Mismatch {
        source_desc: String,
        message: String,
    },
    /// A generation request is invalid (sizes, batch, strength, ...).
    #[error("invalid request: {0}")]
    Request(String),
    /// An image file could not be read or written.
    #[error("{path}: {message}")]
    Image { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, Sd15Error>;
