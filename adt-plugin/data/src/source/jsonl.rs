//! JSONL records: one JSON object per line with an image path and a caption
//! (`{"path": "imgs/0001.jpg", "prompt": "a cat"}`; JourneyDB uses
//! `img_path`/`prompt`). Also the parser behind the imagefolder layout.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::record::Origin;
use crate::report::{BadReason, DataReport};
use crate::source::{Candidate, Parsed};

/// Parses `file`; image paths are relative to `root` (default: the file's
/// folder). Blank lines are ignored; every other line is one record.
pub fn parse(
    file: &Path,
    root: Option<&Path>,
    path_key: &str,
    caption_key: &str,
) -> Result<Parsed> {
    let root = match root {
        Some(r) => r.to_path_buf(),
        None => parent_dir(file),
    };
    parse_lines(file, root, path_key, caption_key)
}

/// The folder a file is in (`.` for a bare file name).
pub(crate) fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads a JSONL file line by line (bytes, so a non-UTF-8 line is reported
/// on its own instead of failing the file).
pub(crate) fn parse_lines(
    file: &Path,
    root: PathBuf,
    path_key: &str,
    caption_key: &str,
) -> Result<Parsed> {
    let bytes = std::fs::read(file).map_err(|e| DataError::io(file, e))?;
    let mut candidates = Vec::new();
    let mut report = DataReport::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let origin = Origin {
            file: file.to_path_buf(),
            line: Some(line_no),
        };
        match parse_line(raw, path_key, caption_key) {
            Ok((rel_path, caption)) => candidates.push(Candidate {
                rel_path,
                caption,
                origin,
            }),
            Err(reason) => {
                report.total += 1;
                report.push(file, Some(line_no), reason);
            }
        }
    }
    Ok(Parsed {
        root,
        candidates,
        report,
    })
}

/// One line → (image path, caption or why the caption is bad). A line
/// without a usable path is rejected as a whole.
fn parse_line(
    raw: &[u8],
    path_key: &str,
    caption_key: &str,
) -> std::result::Result<(String, std::result::Result<String, BadReason>), BadReason> {
    let text = std::str::from_utf8(raw).map_err(|_| BadReason::NonUtf8Caption)?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| BadReason::InvalidJson {
            message: e.to_string(),
        })?;
    let obj = value.as_object().ok_or_else(|| BadReason::InvalidJson {
        message: "line is not a JSON object".into(),
    })?;
    let path =
        obj.get(path_key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| BadReason::MissingPathColumn {
                column: path_key.to_string(),
            })?;
    let caption = obj
        .get(caption_key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| BadReason::MissingCaptionColumn {
            column: caption_key.to_string(),
        });
    Ok((path.to_string(), caption))
}
