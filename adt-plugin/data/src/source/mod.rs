//! Dataset sources: the three on-disk layouts users bring, indexed into
//! validated [`Record`]s plus a [`DataReport`] of skipped entries.
//!
//! Each format module only parses its layout into [`Candidate`]s; the shared
//! validation here resolves paths inside the root, reads image headers,
//! checks captions and drops duplicates, so every format rejects bad input the
//! same way.

pub mod caption_txt;
pub mod imagefolder;
pub mod jsonl;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::progress::{Progress, ProgressMode};
use crate::record::{Origin, Record};
use crate::report::{BadReason, DataReport};

/// Which layout the data is in. Relative paths are resolved against the
/// current directory (the CLI resolves them against its config file first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Hugging Face `imagefolder`: `root/metadata.jsonl` with a `file_name`
    /// column relative to `root` and a caption column.
    ImageFolder {
        root: PathBuf,
        /// Metadata file name inside `root`.
        #[serde(default = "default_metadata")]
        metadata: String,
        /// Column holding the caption.
        #[serde(default = "default_caption_column")]
        caption_column: String,
    },
    /// A JSONL file of records with an image path and a prompt, e.g.
    /// JourneyDB's `{"img_path": ..., "prompt": ...}`.
    Jsonl {
        file: PathBuf,
        /// Root the image paths are relative to; defaults to the JSONL's folder.
        #[serde(default)]
        root: Option<PathBuf>,
        #[serde(default = "default_path_key")]
        path_key: String,
        #[serde(default = "default_prompt_key")]
        caption_key: String,
    },
    /// Images with a caption file of the same stem beside them
    /// (`cat.png` + `cat.txt`), searched recursively under `root`.
    CaptionTxt {
        root: PathBuf,
        #[serde(default = "default_caption_extension")]
        caption_extension: String,
    },
}

fn default_metadata() -> String {
    "metadata.jsonl".into()
}
fn default_caption_column() -> String {
    "text".into()
}
fn default_path_key() -> String {
    "path".into()
}
fn default_prompt_key() -> String {
    "prompt".into()
}
fn default_caption_extension() -> String {
    "txt".into()
}

/// Image file extensions this build can decode (the `image` crate is built
/// with its `png` and `jpeg` features).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
/// Image extensions that are recognised but cannot be decoded by this build;
/// such files are reported instead of silently ignored.
pub const UNSUPPORTED_IMAGE_EXTENSIONS: &[&str] =
    &["webp", "gif", "bmp", "tif", "tiff", "avif", "heic"];

/// A record as parsed from the layout, before validation.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The path as written in the source (relative to the root).
    pub rel_path: String,
    /// The caption, or why it could not be read.
    pub caption: std::result::Result<String, BadReason>,
    pub origin: Origin,
}

/// What a format parser returns: its candidates, the entries it already
/// rejected, and the root the paths are relative to.
pub struct Parsed {
    pub root: PathBuf,
    pub candidates: Vec<Candidate>,
    pub report: DataReport,
}

impl SourceConfig {
    /// Indexes the source: parses the layout, validates each record, reads
    /// image headers. Bad records go to the returned report; this errors only
    /// when the source itself is unusable. Call [`DataReport::check`] to apply
    /// the bad-record limit.
    pub fn index(&self, progress: ProgressMode) -> Result<(Vec<Record>, DataReport)> {
        let parsed = match self {
            Self::ImageFolder {
                root,
                metadata,
                caption_column,
            } => imagefolder::parse(root, metadata, caption_column)?,
            Self::Jsonl {
                file,
                root,
                path_key,
                caption_key,
            } => jsonl::parse(file, root.as_deref(), path_key, caption_key)?,
            Self::CaptionTxt {
                root,
                caption_extension,
            } => caption_txt::parse(root, caption_extension)?,
        };
        validate(parsed, progress)
    }
}

/// Shared validation of parsed candidates (see the module docs).
fn validate(parsed: Parsed, progress: ProgressMode) -> Result<(Vec<Record>, DataReport)> {
    let Parsed {
        root,
        candidates,
        mut report,
    } = parsed;
    let root = root
        .canonicalize()
        .map_err(|e| DataError::io(root.clone(), e))?;
    report.total += candidates.len();
    let bar = Progress::new("indexing", candidates.len() as u64, progress);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut records = Vec::with_capacity(candidates.len());
    for cand in candidates {
        bar.inc(1);
        let Origin { file, line } = cand.origin.clone();
        let name = match normalize_rel(&cand.rel_path) {
            Ok(name) => name,
            Err(reason) => {
                report.push(file, line, reason);
                continue;
            }
        };
        let where_ = match line {
            Some(l) => format!("line {l}"),
            None => file.display().to_string(),
        };
        if let Some(first) = seen.get(&name) {
            let reason = BadReason::DuplicateName {
                name,
                first: first.clone(),
            };
            report.push(file, line, reason);
            continue;
        }
        let caption = match cand.caption {
            Ok(c) => match c.trim() {
                "" => Err(BadReason::EmptyCaption),
                t => Ok(t.to_string()),
            },
            Err(e) => Err(e),
        };
        let checked = caption.and_then(|caption| {
            let path = resolve_in_root(&root, &name)?;
            let (width, height) = read_dimensions(&path)?;
            let (file_size, modified_ns) = file_stamp(&path);
            Ok(Record {
                name: name.clone(),
                path,
                caption,
                width,
                height,
                file_size,
                modified_ns,
                origin: cand.origin.clone(),
            })
        });
        match checked {
            Ok(record) => {
                // Only a good record claims its name, so a bad line does not
                // turn a later good one into a duplicate.
                seen.insert(name, where_);
                records.push(record);
            }
            Err(reason) => report.push(file, line, reason),
        }
    }
    bar.finish();
    report
        .bad
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok((records, report))
}

/// Normalises a relative path to `a/b/c.png`, rejecting absolute paths and
/// any `..` component (even one that would come back inside the root).
pub fn normalize_rel(rel: &str) -> std::result::Result<String, BadReason> {
    let escapes = || BadReason::EscapesRoot {
        path: rel.to_string(),
    };
    if rel.trim().is_empty() {
        return Err(BadReason::MissingFile {
            path: PathBuf::from(rel),
        });
    }
    // A Windows-style absolute path is an escape on every platform.
    let bytes = rel.as_bytes();
    if rel.starts_with('\\') || (bytes.len() > 1 && bytes[1] == b':') {
        return Err(escapes());
    }
    let mut parts = Vec::new();
    for comp in Path::new(rel).components() {
        match comp {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(escapes());
            }
        }
    }
    if parts.is_empty() {
        return Err(escapes());
    }
    Ok(parts.join("/"))
}

/// Resolves a normalised name under the canonical `root`, following symlinks,
/// and rejects anything that ends up outside it or is not a regular file.
pub fn resolve_in_root(root: &Path, name: &str) -> std::result::Result<PathBuf, BadReason> {
    let joined = root.join(name);
    if std::fs::symlink_metadata(&joined).is_err() {
        return Err(BadReason::MissingFile { path: joined });
    }
    let canonical = joined.canonicalize().map_err(|_| BadReason::MissingFile {
        path: joined.clone(),
    })?;
    if !canonical.starts_with(root) {
        return Err(BadReason::EscapesRoot {
            path: name.to_string(),
        });
    }
    if !canonical.is_file() {
        return Err(BadReason::MissingFile { path: joined });
    }
    Ok(canonical)
}

/// Reads the image size from its header without decoding pixels.
pub fn read_dimensions(path: &Path) -> std::result::Result<(u32, u32), BadReason> {
    let unreadable = |message: String| BadReason::UnreadableImage {
        path: path.to_path_buf(),
        message,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if UNSUPPORTED_IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        return Err(unreadable(format!(
            ".{ext} is not supported by this build (png, jpeg)"
        )));
    }
    let reader = image::ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| unreadable(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(BadReason::EmptyImage);
    }
    Ok((w, h))
}

/// File size and modification time (ns since the epoch; 0 if unavailable).
fn file_stamp(path: &Path) -> (u64, u64) {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (meta.len(), modified)
        }
        Err(_) => (0, 0),
    }
}
