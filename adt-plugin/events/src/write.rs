//! [`EventWriter`]: appends [`Event`] lines to `RUN_DIR/events.jsonl`, one flushed line per
//! event, stamped with the current time. Non-finite metric values are written as `null` and
//! raise a `non_finite` alarm.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::schema::{
    AlarmEvent, CheckpointEvent, Event, RunConfig, RunEnd, RunStart, RunStatus, SampleEvent,
    StepEvent,
};

/// The file's name inside the run directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// Appends events to `run_dir/events.jsonl`.
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

/// An I/O failure, with the file it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct WriteError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

type Result<T> = std::result::Result<T, WriteError>;

impl EventWriter {
    /// Open (append, create) `run_dir/events.jsonl`, creating the directory. A resumed run
    /// appends to the same file.
    pub fn open(run_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(run_dir).map_err(|source| WriteError {
            what: "create run directory",
            path: run_dir.to_path_buf(),
            source,
        })?;
        let path = run_dir.join(EVENTS_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| WriteError {
                what: "open",
                path: path.clone(),
                source,
            })?;
        Ok(Self { path, file })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stamp `event` with the current time and append it as one line.
    pub fn write(&mut self, mut event: Event) -> Result<()> {
        event.set_time(now());
        let mut line = serde_json::to_string(&event).expect("events always serialise");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|source| WriteError {
                what: "append to",
                path: self.path.clone(),
                source,
            })
    }

    /// `run_start` with the run name, total steps, resume point and key settings.
    pub fn run_start(
        &mut self,
        run: &str,
        total_steps: usize,
        resumed_from: Option<usize>,
        config: RunConfig,
    ) -> Result<()> {
        self.write(Event::RunStart(Box::new(RunStart {
            time: 0.0,
            run: run.to_string(),
            total_steps: Some(total_steps as u64),
            resumed_from: resumed_from.map(|s| s as u64),
            config,
        })))
    }

    /// `step` with its metrics; non-finite values become `null` plus an `alarm`.
    pub fn step(&mut self, step: usize, metrics: &[(&str, f64)]) -> Result<()> {
        let mut map = BTreeMap::new();
        let mut bad = Vec::new();
        for (k, v) in metrics {
            if v.is_finite() {
                map.insert((*k).to_string(), Some(*v));
            } else {
                map.insert((*k).to_string(), None);
                bad.push(*k);
            }
        }
        self.write(Event::Step(StepEvent {
            time: 0.0,
            step: step as u64,
            metrics: map,
        }))?;
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
        self.write(Event::Alarm(AlarmEvent {
            time: 0.0,
            step: Some(step as u64),
            kind: kind.to_string(),
            message: message.to_string(),
        }))
    }

    /// `checkpoint` with the path relative to the run directory.
    pub fn checkpoint(&mut self, step: usize, rel_path: &str) -> Result<()> {
        self.write(Event::Checkpoint(CheckpointEvent {
            time: 0.0,
            step: Some(step as u64),
            path: rel_path.to_string(),
        }))
    }

    /// `sample` with the image path (relative) and its prompts.
    pub fn sample(&mut self, step: usize, rel_path: &str, prompts: &[String]) -> Result<()> {
        self.write(Event::Sample(SampleEvent {
            time: 0.0,
            step: Some(step as u64),
            path: rel_path.to_string(),
            prompts: prompts.to_vec(),
        }))
    }

    /// `run_end` with its status and an optional message.
    pub fn run_end(&mut self, step: usize, status: RunStatus, message: Option<&str>) -> Result<()> {
        self.write(Event::RunEnd(RunEnd {
            time: 0.0,
            step: Some(step as u64),
            status,
            message: message.map(str::to_string),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::parse_line;

    #[test]
    fn what_is_written_reads_back_as_the_same_events() {
        let dir = std::env::temp_dir().join(format!("adt-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut w = EventWriter::open(&dir).unwrap();
        let config = RunConfig {
            model: Some("m".into()),
            m: Some(4),
            adversarial: Some(true),
            ..Default::default()
        };
        w.run_start("r", 10, Some(2), config.clone()).unwrap();
        w.step(3, &[("g_adv", 0.5), ("d_loss", f64::NAN)]).unwrap();
        w.sample(3, "samples/a.png", &["p".into()]).unwrap();
        w.checkpoint(3, "checkpoints/step-3").unwrap();
        w.run_end(3, RunStatus::Interrupted, None).unwrap();
        let text = std::fs::read_to_string(w.path()).unwrap();
        let events: Vec<Event> = text.lines().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(events.len(), 6, "{text}");
        let Event::RunStart(s) = &events[0] else {
            panic!()
        };
        assert_eq!((s.run.as_str(), s.resumed_from), ("r", Some(2)));
        assert_eq!(s.config, config);
        let Event::Step(st) = &events[1] else {
            panic!()
        };
        assert_eq!(st.metrics["g_adv"], Some(0.5));
        assert_eq!(st.metrics["d_loss"], None);
        assert!(matches!(&events[2], Event::Alarm(a) if a.kind == "non_finite"));
        assert!(matches!(&events[5], Event::RunEnd(e) if e.status == RunStatus::Interrupted));
        assert!(text.contains("\"type\":\"run_start\"") && text.contains("\"d_loss\":null"));
        assert!(events.iter().all(|e| e.time() > 0.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
