//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one test file. Fixtures:
//! `scripts/fixtures/sd3.py` (diffusers 0.37.1, transformers 4.57.6).

mod common;
mod mmdit;
mod pipeline;
mod t5;
