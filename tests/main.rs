//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod assets;
mod cli_eval;
mod cli_eval_inception;
mod cli_train;
mod forward_harness;
mod lora;
mod quickstart;
mod scale;
mod sd3;
mod sdxl;
mod train_config;
