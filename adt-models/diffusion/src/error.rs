//! Configuration errors (loading errors are `adt_models_common::LoadError`).

/// A config value this port cannot build, with the field and value named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// Attach the config file the value came from.
    pub fn in_file(self, path: &std::path::Path) -> adt_models_common::LoadError {
        adt_models_common::LoadError::Config {
            path: path.to_path_buf(),
            message: self.0,
        }
    }
}
