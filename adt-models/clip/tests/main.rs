//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod common;
mod ftfy;
mod text_model;
mod tokenizer;
