//! Typed errors: every message names the file, config field or step index at fault.

use std::path::PathBuf;

/// Reading or validating a `scheduler_config.json`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read scheduler config {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scheduler config {origin} is not valid JSON: {source}")]
    Json {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("scheduler config {origin} must be a JSON object")]
    NotAnObject { origin: String },
    #[error(
        "scheduler config {origin}: field `_class_name` is missing (use `SchedulerConfig::from_json_as` to pick the scheduler yourself)"
    )]
    MissingClassName { origin: String },
    #[error(
        "scheduler config {origin}: `_class_name` = {class:?} is not supported; supported: {supported}"
    )]
    UnknownClass {
        origin: String,
        class: String,
        supported: String,
    },
    #[error("scheduler config {origin}: field `{field}` has the wrong type: {source}")]
    FieldType {
        origin: String,
        field: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "scheduler config {origin}: field `{field}` = {value} is not supported by {class} here; supported: {supported}"
    )]
    Unsupported {
        origin: String,
        class: &'static str,
        field: &'static str,
        value: String,
        supported: String,
    },
}

/// Building a schedule or taking a step.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "num_inference_steps = {requested} is invalid: must be in 1..={max} (num_train_timesteps)"
    )]
    InferenceSteps { requested: usize, max: usize },
    #[error("step index {index} is out of range: this schedule has {len} steps")]
    IndexOutOfRange { index: usize, len: usize },
    #[error(
        "{scheduler} step {index} adds noise (coefficient {coefficient}) but no noise tensor was given"
    )]
    MissingNoise {
        scheduler: &'static str,
        index: usize,
        coefficient: f64,
    },
    #[error("shape mismatch at step {index}: {what} has shape {got:?}, sample has {expected:?}")]
    Shape {
        index: usize,
        what: &'static str,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error(
        "multistep history holds the prediction of step {held}, but step {index} needs step {needed}'s (use a fresh StepState when a trajectory starts or jumps)"
    )]
    History {
        index: usize,
        held: usize,
        needed: usize,
    },
    #[error(
        "step {index} of {scheduler} is not linear in (sample, model_output) because `{field}` is on; no coefficients exist"
    )]
    NonLinear {
        scheduler: &'static str,
        index: usize,
        field: &'static str,
    },
    #[error("training timestep {timestep} is out of range 0..{num_train}")]
    Timestep { timestep: i64, num_train: usize },
    #[error("{timesteps} timesteps given for a batch of {batch} samples (one per sample expected)")]
    Batch { timesteps: usize, batch: usize },
    #[error("strength = {strength} is invalid: must be in [0, 1]")]
    Strength { strength: f64 },
    #[error("option `{option}` is not available for {scheduler}")]
    Option {
        option: &'static str,
        scheduler: &'static str,
    },
}

pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;
