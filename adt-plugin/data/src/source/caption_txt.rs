//! Images with caption files beside them: `a/cat.png` + `a/cat.txt`. The
//! folder is walked recursively in sorted order; hidden entries are skipped
//! and symlinked directories are not followed (no loops, no escapes).

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::record::Origin;
use crate::report::{BadReason, DataReport};
use crate::source::{Candidate, IMAGE_EXTENSIONS, Parsed, UNSUPPORTED_IMAGE_EXTENSIONS};

/// Walks `root` for images and reads each caption file (`stem.<ext>`).
pub fn parse(root: &Path, caption_extension: &str) -> Result<Parsed> {
    if !root.is_dir() {
        return Err(DataError::Source {
            path: root.to_path_buf(),
            message: "caption_txt root is not a directory".into(),
        });
    }
    let mut images = Vec::new();
    walk(root, &mut images)?;
    images.sort();
    // Two images sharing one caption file (`a.png`, `a.jpg`) are ambiguous:
    // the first in sorted order keeps it, the others are duplicates.
    let mut stems: std::collections::HashMap<PathBuf, PathBuf> = Default::default();
    let candidates = images
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let caption_file = path.with_extension(caption_extension);
            let caption = match stems.get(&caption_file) {
                Some(first) => Err(BadReason::DuplicateName {
                    name: caption_file.to_string_lossy().into_owned(),
                    first: first.display().to_string(),
                }),
                None => {
                    stems.insert(caption_file.clone(), path.clone());
                    read_caption(&caption_file)
                }
            };
            Candidate {
                rel_path: rel,
                caption,
                origin: Origin {
                    file: path.clone(),
                    line: None,
                },
            }
        })
        .collect();
    Ok(Parsed {
        root: root.to_path_buf(),
        candidates,
        report: DataReport::default(),
    })
}

/// Collects image files (supported or recognisably unsupported, so the latter
/// get reported) under `dir`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| DataError::io(&path, e))?;
        if file_type.is_dir() {
            walk(&path, out)?;
            continue;
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if IMAGE_EXTENSIONS.contains(&ext.as_str())
            || UNSUPPORTED_IMAGE_EXTENSIONS.contains(&ext.as_str())
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads a caption file; a missing or non-UTF-8 one is a bad record.
fn read_caption(path: &Path) -> std::result::Result<String, BadReason> {
    let bytes = std::fs::read(path).map_err(|_| BadReason::MissingCaption {
        expected: path.to_path_buf(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| BadReason::NonUtf8Caption)?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}
