//! Bad-record reporting: each skipped record is kept with its file, line and
//! reason, and the run stops only when more than a configured fraction is bad.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BadReason {
    /// The image file named by the record does not exist.
    MissingFile { path: PathBuf },
    /// The record's path is absolute, contains `..`, or resolves (through a
    /// symlink) outside the dataset root.
    EscapesRoot { path: String },
    /// The caption is empty or only whitespace.
    EmptyCaption,
    /// The caption (a `.txt` file or a metadata line) is not valid UTF-8.
    NonUtf8Caption,
    /// The same file name appears twice; the first occurrence (`first`: its
    /// line or file) is kept.
    DuplicateName { name: String, first: String },
    /// A metadata line lacks the caption column (or it is not a string).
    MissingCaptionColumn { column: String },
    /// A metadata line lacks the image path column (or it is not a string).
    MissingPathColumn { column: String },
    /// A metadata line is not a JSON object.
    InvalidJson { message: String },
    /// The image header could not be read (not an image, unknown format); `path` is the
    /// image file the record names.
    UnreadableImage { path: PathBuf, message: String },
    /// The image header was fine but decoding failed later (truncated data).
    UndecodableImage { message: String },
    /// An image has no caption file beside it.
    MissingCaption { expected: PathBuf },
    /// An image with a zero-sized dimension.
    EmptyImage,
}

impl fmt::Display for BadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingFile { path } => write!(f, "image file not found: {}", path.display()),
            Self::EscapesRoot { path } => write!(f, "path escapes the dataset root: {path:?}"),
            Self::EmptyCaption => write!(f, "empty caption"),
            Self::NonUtf8Caption => write!(f, "caption is not valid UTF-8"),
            Self::DuplicateName { name, first } => {
                write!(f, "duplicate name {name:?} (first seen at {first})")
            }
            Self::MissingCaptionColumn { column } => {
                write!(f, "no string caption column {column:?}")
            }
            Self::MissingPathColumn { column } => write!(f, "no string path column {column:?}"),
            Self::InvalidJson { message } => write!(f, "invalid JSON: {message}"),
            Self::UnreadableImage { path, message } => {
                write!(f, "unreadable image {}: {message}", path.display())
            }
            Self::UndecodableImage { message } => write!(f, "image fails to decode: {message}"),
            Self::MissingCaption { expected } => {
                write!(f, "no caption file {}", expected.display())
            }
            Self::EmptyImage => write!(f, "image has a zero dimension"),
        }
    }
}

/// One skipped record: the file that described it (metadata file, or the
/// image / caption file itself), its 1-based line when there is one, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRecord {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub reason: BadReason,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// What indexing a source found: how many records were seen and which were
/// skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataReport {
    /// Records seen (good and bad).
    pub total: usize,
    /// Records skipped, in source order.
    pub bad: Vec<BadRecord>,
}

impl DataReport {
    /// Records a skipped record.
    pub fn push(&mut self, file: impl Into<PathBuf>, line: Option<usize>, reason: BadReason) {
        self.bad.push(BadRecord {
            file: file.into(),
            line,
            reason,
        });
    }

    /// Fraction of seen records that were bad (0 when nothing was seen).
    pub fn bad_fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.bad.len() as f64 / self.total as f64
        }
    }

    /// Errors with [`DataError::TooManyBad`] if the bad fraction exceeds
    /// `max_fraction`.
    pub fn check(&self, max_fraction: f64) -> Result<()> {
        if self.bad_fraction() > max_fraction {
            return Err(DataError::TooManyBad {
                bad: self.bad.len(),
                total: self.total,
                max_fraction,
                report: Box::new(self.clone()),
            });
        }
        Ok(())
    }

    /// The first `limit` problems, one per line, plus a count of the rest.
    pub fn summary(&self, limit: usize) -> String {
        let mut out = String::new();
        for bad in self.bad.iter().take(limit) {
            out.push_str(&format!("  {bad}\n"));
        }
        if self.bad.len() > limit {
            out.push_str(&format!("  ... and {} more\n", self.bad.len() - limit));
        }
        out
    }
}

impl fmt::Display for DataReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} records, {} skipped ({:.2}%)",
            self.total,
            self.bad.len(),
            100.0 * self.bad_fraction()
        )?;
        write!(f, "{}", self.summary(usize::MAX))
    }
}
