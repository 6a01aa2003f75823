//! Typed errors of the engine. Every variant names what was wrong (a config field, a file, a step).

use std::path::PathBuf;

/// Errors raised by the ADT engine.
#[derive(Debug, thiserror::Error)]
pub enum AdtError {
    /// A config value is invalid; `field` is the dotted config key.
    #[error("invalid config value for `{field}`: {message}")]
    Config {
        /// Dotted name of the offending field, e.g. `g_optim.lr`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The config file could not be parsed (unknown keys, wrong types, unknown names).
    #[error("cannot parse config {path}: {message}")]
    ConfigParse {
        /// The file read (or `<string>`).
        path: PathBuf,
        /// The parser's message, which names the key.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What the engine tried to do.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint is missing, incomplete or unreadable.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A batch or model output does not have the shape the engine needs.
    #[error("shape mismatch in {what}: {message}")]
    Shape {
        /// The tensor concerned.
        what: &'static str,
        /// Expected vs got.
        message: String,
    },
    /// Too many consecutive non-finite losses; the run stops.
    #[error(
        "stopping: {count} consecutive steps had a non-finite loss (last at step {step}: {detail}); \
         the last checkpoint is intact"
    )]
    NonFinite {
        /// Consecutive skipped updates.
        count: usize,
        /// The step of the last one.
        step: usize,
        /// Which losses were non-finite.
        detail: String,
    },
    /// The data loader failed.
    #[error("data loader error at batch {position}: {message}")]
    Data {
        /// Batches consumed before the failure.
        position: usize,
        /// The loader's message.
        message: String,
    },
    /// The run was stopped by the user (interrupter).
    #[error("interrupted at step {step}")]
    Interrupted {
        /// Last finished step.
        step: usize,
    },
}

impl AdtError {
    /// Shorthand for a config error on `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an IO error.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<adt_events::write::WriteError> for AdtError {
    fn from(e: adt_events::write::WriteError) -> Self {
        Self::Io {
            action: e.what,
            path: e.path,
            source: e.source,
        }
    }
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, AdtError>;
