//! Typed errors of the dataset layer. Every variant names the file (and line
//! where there is one) so a user can find what is wrong.

use std::path::PathBuf;

use crate::report::DataReport;

/// Errors that stop a run. Individual bad records are not errors: they go to a
/// [`DataReport`] and only become [`DataError::TooManyBad`] past the
/// configured fraction.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory the dataset needs could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The dataset description itself is unusable (not a bad record).
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },
    /// More records were bad than `max_bad_fraction` allows.
    #[error(
        "{bad} of {total} records are bad ({:.2}% > allowed {:.2}%); first problems:\n{}",
        100.0 * *bad as f64 / (*total).max(1) as f64,
        100.0 * max_fraction,
        report.summary(10)
    )]
    TooManyBad {
        bad: usize,
        total: usize,
        max_fraction: f64,
        report: Box<DataReport>,
    },
    /// No usable record is left (after dropping bad ones or after the split).
    #[error("{what}: no usable records")]
    Empty { what: String },
    /// A configuration value is out of range or contradicts another.
    #[error("invalid data config: {0}")]
    Config(String),
    /// Every candidate image failed to decode while substituting a bad one.
    #[error("no decodable image left (last failure: {0})")]
    NoDecodableImage(String),
    /// The on-disk cache is malformed (a shard or manifest that cannot be read).
    #[error("cache {path}: {message}")]
    Cache { path: PathBuf, message: String },
    /// The encoder passed to the cache builder failed.
    #[error("encoder failed while caching: {0}")]
    Encoder(String),
}

impl DataError {
    /// Shorthand for an I/O error at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for a cache error at `path`.
    pub fn cache(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Cache {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
