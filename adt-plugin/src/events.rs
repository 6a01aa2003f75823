//! The run directory's `events.jsonl`: the typed schema and its writer live in `adt-events`
//! (shared with the dashboard); the engine writes it through [`EventWriter`].

pub use adt_events::schema::{RunConfig, RunStatus};
pub use adt_events::write::{EVENTS_FILE, EventWriter};
