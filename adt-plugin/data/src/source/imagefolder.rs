//! Hugging Face `imagefolder` layout: `root/metadata.jsonl` whose lines carry
//! a `file_name` relative to `root` and a caption column (`text` by default).

use std::path::Path;

use crate::error::{DataError, Result};
use crate::source::{Parsed, jsonl};

/// The column the imagefolder convention uses for the image path.
pub const FILE_NAME_COLUMN: &str = "file_name";

/// Parses `root/metadata`. Only JSONL metadata is supported; a
/// `metadata.csv` gets a clear error asking to convert it.
pub fn parse(root: &Path, metadata: &str, caption_column: &str) -> Result<Parsed> {
    let file = root.join(metadata);
    if !file.is_file() {
        let csv = root.join("metadata.csv");
        let message = if csv.is_file() {
            format!("no {metadata}; metadata.csv is not supported, convert it to JSON lines")
        } else {
            format!("no {metadata} in the imagefolder root")
        };
        return Err(DataError::Source {
            path: root.to_path_buf(),
            message,
        });
    }
    jsonl::parse_lines(&file, root.to_path_buf(), FILE_NAME_COLUMN, caption_column)
}
