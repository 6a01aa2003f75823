//! Incremental reader of `RUN_DIR/events.jsonl`: remembers its byte offset, holds back a
//! partial last line until its newline arrives, notices the file being truncated or
//! replaced (a restarted run) and waits patiently for a directory that does not exist yet.
//! Read-only and lock-free, so any number of viewers can tail the same run.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest chunk read per [`Tailer::poll`], so that a huge history is ingested over a few
/// polls instead of freezing the UI.
pub const MAX_READ_PER_POLL: u64 = 8 << 20;

/// Where the tailed file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// The run directory does not exist (yet).
    NoDirectory,
    /// The directory exists, `events.jsonl` does not (yet).
    NoEventsFile,
    /// Reading; `bytes` consumed so far, `pending` bytes of an unfinished last line.
    Open { bytes: u64, pending: usize },
    /// The file exists but cannot be read.
    Unreadable(String),
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct TailPoll {
    /// The file was truncated, replaced or removed: discard everything read so far
    /// (`lines` then starts from the new file's beginning).
    pub reset: bool,
    /// Complete lines (without `\n`/`\r\n`), in file order.
    pub lines: Vec<String>,
}

/// Tails one run directory's `events.jsonl`.
#[derive(Debug)]
pub struct Tailer {
    dir: PathBuf,
    file: Option<File>,
    identity: Option<FileId>,
    offset: u64,
    partial: Vec<u8>,
    status: SourceStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> Option<FileId> {
    None
}

impl Tailer {
    /// A tailer for `run_dir/events.jsonl`; nothing is opened until [`Tailer::poll`].
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: run_dir.into(),
            file: None,
            identity: None,
            offset: 0,
            partial: Vec::new(),
            status: SourceStatus::NoDirectory,
        }
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tailed file's path.
    pub fn events_path(&self) -> PathBuf {
        self.dir.join(adt_events::EVENTS_FILE)
    }

    /// State after the last poll.
    pub fn status(&self) -> &SourceStatus {
        &self.status
    }

    /// Reads whatever was appended since the last poll. Never fails: problems are
    /// reported through [`Tailer::status`] and retried on the next poll.
    pub fn poll(&mut self) -> TailPoll {
        let mut out = TailPoll::default();
        let path = self.events_path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => {
                if self.file.is_some() || self.offset > 0 {
                    // Removed (a run restarted with a fresh directory): start over.
                    out.reset = true;
                    self.forget();
                }
                self.status = if self.dir.is_dir() {
                    SourceStatus::NoEventsFile
                } else {
                    SourceStatus::NoDirectory
                };
                return out;
            }
        };
        let id = file_id(&meta);
        let replaced = self.file.is_some() && id.is_some() && id != self.identity;
        let truncated = meta.len() < self.offset;
        if replaced || truncated {
            out.reset = true;
            self.forget();
        }
        if self.file.is_none() {
            match File::open(&path) {
                Ok(f) => {
                    self.file = Some(f);
                    self.identity = id;
                }
                Err(e) => {
                    self.status = SourceStatus::Unreadable(e.to_string());
                    return out;
                }
            }
        }
        if let Err(e) = self.read_new(&mut out.lines) {
            self.status = SourceStatus::Unreadable(e.to_string());
            return out;
        }
        self.status = SourceStatus::Open {
            bytes: self.offset,
            pending: self.partial.len(),
        };
        out
    }

    fn forget(&mut self) {
        self.file = None;
        self.identity = None;
        self.offset = 0;
        self.partial.clear();
    }

    fn read_new(&mut self, lines: &mut Vec<String>) -> io::Result<()> {
        let file = self.file.as_mut().expect("opened above");
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        let n = file.take(MAX_READ_PER_POLL).read_to_end(&mut buf)?;
        self.offset += n as u64;
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&buf[start..i]);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                lines.push(String::from_utf8_lossy(&line).into_owned());
                start = i + 1;
            }
        }
        self.partial.extend_from_slice(&buf[start..]);
        Ok(())
    }
}
