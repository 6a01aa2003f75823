//! The error type of the family seam and of every family crate: each variant names the file,
//! option or input at fault.

use std::path::PathBuf;

use adt_clip::ClipError;
use adt_dinov2::Dinov2Error;
use adt_models_common::LoadError;
use adt_schedulers::{ConfigError, SchedulerError};
use adt_t5::T5Error;

/// Why a pipeline could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// A checkpoint file, config or weight could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A text encoder or tokenizer failed to load or run.
    #[error(transparent)]
    Clip(#[from] ClipError),
    /// The T5 encoder or its tokenizer failed to load or run (SD3's `text_encoder_3`).
    #[error(transparent)]
    T5(#[from] T5Error),
    /// The DINOv2 backbone could not be built.
    #[error(transparent)]
    Dinov2(#[from] Dinov2Error),
    /// `scheduler/scheduler_config.json` is unreadable or asks for an unsupported option.
    #[error(transparent)]
    SchedulerConfig(#[from] ConfigError),
    /// A sampler step was called out of order or with mis-shaped tensors.
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// The components do not fit together (e.g. the UNet's cross-attention width is not the
    /// text encoders' hidden size).
    #[error("{source_desc}: {message}")]
    Mismatch {
        source_desc: String,
        message: String,
    },
    /// The checkpoint is of another family or layout than the one asked for.
    #[error("{path}: {message}")]
    WrongFamily { path: PathBuf, message: String },
    /// A generation request is invalid (sizes, batch, strength, ...).
    #[error("invalid request: {0}")]
    Request(String),
    /// A LoRA file is unreadable or does not fit the denoiser.
    #[error("LoRA {path}: {message}")]
    Lora { path: PathBuf, message: String },
    /// An image file could not be read or written.
    #[error("{path}: {message}")]
    Image { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, FamilyError>;
