//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod api;
mod common;
mod goldens;
mod img2img;
mod names;
mod spacing;
