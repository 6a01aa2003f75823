//! Typed `config.json` reading.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::LoadError;

/// Read a JSON config into its typed form; the error names the file and,
/// from serde, the offending field, line and column.
pub fn read_config<T: DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| LoadError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
