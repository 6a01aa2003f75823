//! The `events.jsonl` writer (contract: `docs/run-directory.md`).
//!
//! One JSON object per line, appended and flushed per event, each with `type`, `time` (Unix
//! seconds) and, except `run_start`, `step`. Non-finite metric values are written as `null` and
//! raise an `alarm` of kind `non_finite`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::error::{AdtError, Result};

/// Final status of a run (`run_end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// All steps done.
    Finished,
    /// Stopped by the user.
    Interrupted,
    /// Stopped by an error.
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
        }
    }
}

/// Appends events to `RUN_DIR/events.jsonl`.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl EventWriter {
    /// Open (append, create) `run_dir/events.jsonl`. A resumed run appends to the same file.
    pub fn open(run_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(run_dir)
            .map_err(|e| AdtError::io("create run directory", run_dir, e))?;
        let path = run_dir.join("events.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| AdtError::io("open", &path, e))?;
        Ok(Self { path, file })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write one event object (adds `type` and `time`; `step` when given).
    pub fn write(
        &mut self,
        kind: &str,
        step: Option<usize>,
        mut fields: Map<String, Value>,
    ) -> Result<()> {
        let mut obj = Map::new();
        obj.insert("type".into(), json!(kind));
        obj.insert("time".into(), json!(now()));
        if let Some(s) = step {
            obj.insert("step".into(), json!(s));
        }
        obj.append(&mut fields);
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| AdtError::io("append to", &self.path, e))
    }

    /// `run_start` with the run name, total steps, resume point and config summary.
    pub fn run_start(
        &mut self,
        run: &str,
        total_steps: usize,
        resumed_from: Option<usize>,
        config: Value,
    ) -> Result<()> {
        let mut m = Map::new();
        m.insert("run".into(), json!(run));
        m.insert("total_steps".into(), json!(total_steps));
        m.insert("resumed_from".into(), json!(resumed_from));
        m.insert("config".into(), config);
        self.write("run_start", None, m)
    }

    /// `step` with its metrics; non-finite values become `null` plus an `alarm`.
    pub fn step(&mut self, step: usize, metrics: &[(&str, f64)]) -> Result<()> {
        let mut obj = Map::new();
        let mut bad = Vec::new();
        for (k, v) in metrics {
            if v.is_finite() {
                obj.insert((*k).to_string(), json!(v));
            } else {
                obj.insert((*k).to_string(), Value::Null);
                bad.push(*k);
            }
        }
        let mut m = Map::new();
        m.insert("metrics".into(), Value::Object(obj));
        self.write("step", Some(step), m)?;
        if !bad.is_empty() {
            self.alarm(
                step,
                "non_finite",
                &format!("non-finite metric values: {}", bad.join(", ")),
            )?;
        }
        Ok(())
    }

    /// `alarm` of `kind` with a message.
    pub fn alarm(&mut self, step: usize, kind: &str, message: &str) -> Result<()> {
        let mut m = Map::new();
        m.insert("kind".into(), json!(kind));
        m.insert("message".into(), json!(message));
        self.write("alarm", Some(step), m)
    }

    /// `checkpoint` with the path relative to the run dir.
    pub fn checkpoint(&mut self, step: usize, rel_path: &str) -> Result<()> {
        let mut m = Map::new();
        m.insert("path".into(), json!(rel_path));
        self.write("checkpoint", Some(step), m)
    }

    /// `sample` with the image path (relative) and its prompts.
    pub fn sample(&mut self, step: usize, rel_path: &str, prompts: &[String]) -> Result<()> {
        let mut m = Map::new();
        m.insert("path".into(), json!(rel_path));
        m.insert("prompts".into(), json!(prompts));
        self.write("sample", Some(step), m)
    }

    /// `run_end` with its status and an optional message.
    pub fn run_end(&mut self, step: usize, status: RunStatus, message: Option<&str>) -> Result<()> {
        let mut m = Map::new();
        m.insert("status".into(), json!(status.as_str()));
        if let Some(msg) = message {
            m.insert("message".into(), json!(msg));
        }
        self.write("run_end", Some(step), m)
    }
}
