//! The `events.jsonl` lines the dashboard reads: the run directory's one typed schema,
//! defined in `adt-events` (which the engine writes with) and re-exported here.

pub use adt_events::read::{LineError, parse_line};
pub use adt_events::schema::{
    AlarmEvent, CheckpointEvent, Event, RunConfig, RunEnd, RunStart, RunStatus, SampleEvent,
    StepEvent,
};
