//! One indexed image–caption pair. Indexing reads only metadata and image
//! headers; pixels are decoded lazily when a record is loaded.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a record was described: the metadata file and 1-based line, or the
/// image/caption file itself (no line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: Option<usize>,
}

/// An indexed, validated image–caption record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Path relative to the dataset root with `/` separators; unique in a
    /// dataset and the key of the held-out split.
    pub name: String,
    /// Resolved (canonical) path of the image file.
    pub path: PathBuf,
    /// The caption, trimmed of surrounding whitespace.
    pub caption: String,
    /// Image width in pixels, from the header.
    pub width: u32,
    /// Image height in pixels, from the header.
    pub height: u32,
    /// File size in bytes (part of the cache fingerprint).
    pub file_size: u64,
    /// Modification time in nanoseconds since the Unix epoch, 0 when the
    /// platform does not report one (part of the cache fingerprint).
    pub modified_ns: u64,
    /// Where the record came from, for error reports.
    pub origin: Origin,
}
