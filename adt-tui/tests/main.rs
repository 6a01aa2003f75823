//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod alarms;
mod e2e_pty;
mod fmt;
mod render;
mod state;
mod tail;
