//! The lines of `events.jsonl`: one [`Event`] per line, tagged by `"type"`.
//!
//! Every line has `type` and `time` (Unix seconds); every type except `run_start` has the
//! `step` it belongs to (the optimizer step just finished, from 1). Fields a reader may miss
//! from an older or foreign writer default instead of failing the line.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Boxed: it is by far the largest line, and there is one per run.
    RunStart(Box<RunStart>),
    Step(StepEvent),
    Alarm(AlarmEvent),
    Sample(SampleEvent),
    Checkpoint(CheckpointEvent),
    RunEnd(RunEnd),
}

/// The `type` of every event this schema knows, in the order [`Event`] lists them.
pub const EVENT_TYPES: [&str; 6] = [
    "run_start",
    "step",
    "alarm",
    "sample",
    "checkpoint",
    "run_end",
];

impl Event {
    /// The optimizer step the event belongs to (`run_start` has none).
    pub fn step(&self) -> Option<u64> {
        match self {
            Event::RunStart(_) => None,
            Event::Step(e) => Some(e.step),
            Event::Alarm(e) => e.step,
            Event::Sample(e) => e.step,
            Event::Checkpoint(e) => e.step,
            Event::RunEnd(e) => e.step,
        }
    }

    /// The line's `time`.
    pub fn time(&self) -> f64 {
        match self {
            Event::RunStart(e) => e.time,
            Event::Step(e) => e.time,
            Event::Alarm(e) => e.time,
            Event::Sample(e) => e.time,
            Event::Checkpoint(e) => e.time,
            Event::RunEnd(e) => e.time,
        }
    }

    /// Set the line's `time` (the writer stamps every event).
    pub fn set_time(&mut self, time: f64) {
        match self {
            Event::RunStart(e) => e.time = time,
            Event::Step(e) => e.time = time,
            Event::Alarm(e) => e.time = time,
            Event::Sample(e) => e.time = time,
            Event::Checkpoint(e) => e.time = time,
            Event::RunEnd(e) => e.time = time,
        }
    }
}

/// `run_start`: the run's identity and its key settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunStart {
    #[serde(default)]
    pub time: f64,
    /// The run's name (its directory's name).
    #[serde(default)]
    pub run: String,
    #[serde(default)]
    pub total_steps: Option<u64>,
    /// The checkpoint step a resumed run continues from; `null` for a fresh run.
    #[serde(default)]
    pub resumed_from: Option<u64>,
    #[serde(default)]
    pub config: RunConfig,
}

/// The knobs a viewer shows. Every field is optional so that older or foreign writers still
/// parse; anything else in `config` is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunConfig {
    /// The checkpoint being tuned.
    pub model: Option<String>,
    /// The model family (`sd15`, `sdxl`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The training sampler.
    pub sampler: Option<String>,
    /// Sampling steps of the simulated inference.
    pub m: Option<u64>,
    /// Steps that keep their autodiff graph.
    pub k: Option<u64>,
    pub lambda_diff: Option<f64>,
    pub lambda_adv: Option<f64>,
    pub lr_g: Option<f64>,
    pub lr_d: Option<f64>,
    pub batch_size: Option<u64>,
    /// `false` for a plain diffusion fine-tune (no discriminator).
    pub adversarial: Option<bool>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `step`: the metrics of one finished optimizer step ([`crate::METRICS`] names). `None` is
/// written as `null` and means the value was non-finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvent {
    #[serde(default)]
    pub time: f64,
    pub step: u64,
    #[serde(default, deserialize_with = "crate::read::metrics_map")]
    pub metrics: BTreeMap<String, Option<f64>>,
}

/// `alarm`: something a person watching should know (`non_finite`, `validation`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// `sample`: a validation grid written under the run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    /// Relative to the run directory.
    pub path: String,
    #[serde(default)]
    pub prompts: Vec<String>,
}

/// `checkpoint`: a checkpoint directory was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEvent {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    /// Relative to the run directory.
    pub path: String,
}

/// `run_end`: how the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEnd {
    #[serde(default)]
    pub time: f64,
    #[serde(default)]
    pub step: Option<u64>,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Final status of a run (`run_end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// All steps done.
    Finished,
    /// Stopped by the user (resume continues it).
    Interrupted,
    /// Stopped by an error.
    Failed,
    /// A status this reader does not know (a newer or foreign writer).
    #[serde(other)]
    Unknown,
}

impl RunStatus {
    /// The word written to the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
