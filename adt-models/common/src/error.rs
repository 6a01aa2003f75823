//! The one error type of the loading layer.

use std::path::PathBuf;

/// Why a model, config or tensor file could not be loaded or written.
///
/// Every variant names the file (and the key, where there is one), so the
/// message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("file not found: {path}")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{files}: {count} model parameter(s) missing from the checkpoint: {keys}")]
    MissingKeys {
        files: String,
        count: usize,
        keys: String,
    },
    #[error("{files}: {count} checkpoint tensor(s) not used by the model: {keys}")]
    UnusedKeys {
        files: String,
        count: usize,
        keys: String,
    },
    #[error("{path}: tensor `{key}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        path: PathBuf,
        key: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor `{key}`: {message}")]
    Tensor {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("invalid key-remap pattern `{pattern}`: {message}")]
    Remap { pattern: String, message: String },
    #[error("Hugging Face hub: {repo}: `{file}` {message}")]
    Hub {
        repo: String,
        file: String,
        message: String,
    },
}

impl LoadError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::Missing { path }
        } else {
            LoadError::Io { path, source }
        }
    }
}

/// Join a short, readable list of names for an error message.
pub(crate) fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 12;
    let mut out: Vec<&str> = names.iter().take(SHOWN).map(|s| s.as_ref()).collect();
    let rest = names.len().saturating_sub(SHOWN);
    let more = format!("… and {rest} more");
    if rest > 0 {
        out.push(&more);
    }
    out.join(", ")
}
