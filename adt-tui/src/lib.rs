//! adt-tui: a terminal dashboard for adversarial diffusion tuning.
//!
//! Two front ends share one model ([`state::DashboardState`]) and one set of widgets
//! ([`ui`]): the live burn-train renderer ([`live::AdtRenderer`]) and the viewer that
//! tails a run directory ([`app::watch`], `adt-tui watch RUN_DIR`). The run directory
//! format is `docs/run-directory.md`.

pub mod alarms;
pub mod app;
pub mod cli;
pub mod events;
pub mod image;
pub mod live;
pub mod plain;
pub mod state;
pub mod tail;
pub mod terminal;
pub mod ui;

pub use events::{Event, LineError, parse_line};
pub use state::DashboardState;
pub use tail::Tailer;
