//! adt-events — the run directory's `events.jsonl`, as one typed schema.
//!
//! The engine (`adt-plugin`) writes it with [`EventWriter`]; the dashboard (`adt-tui`) and any
//! other viewer read it with [`parse_line`]. Both sides use the same types, so a field renamed
//! on one side cannot silently vanish on the other. The contract in prose is
//! `docs/run-directory.md`.
//!
//! - [`schema`]: [`Event`] and its line types ([`RunStart`], [`StepEvent`], [`AlarmEvent`],
//!   [`SampleEvent`], [`CheckpointEvent`], [`RunEnd`]);
//! - [`metrics`]: every metric name with its meaning ([`METRICS`]) and the per-step values
//!   ([`StepMetrics`]);
//! - [`read`]: [`parse_line`], which takes any bytes (a half-written line, invalid UTF-8, NaN
//!   tokens) and returns an error instead of panicking;
//! - [`write`]: [`EventWriter`], appending and flushing one line per event.

pub mod metrics;
pub mod read;
pub mod schema;
pub mod write;

pub use metrics::{METRICS, MetricInfo, StepMetrics};
pub use read::{LineError, parse_line};
pub use schema::{
    AlarmEvent, CheckpointEvent, Event, RunConfig, RunEnd, RunStart, RunStatus, SampleEvent,
    StepEvent,
};
pub use write::{EVENTS_FILE, EventWriter};
