//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod accumulation;
mod augment;
mod checkpoint_crash;
mod checkpointing;
mod common;
mod config;
mod cpu_kernels;
mod data_parallel;
mod events;
mod frechet;
mod gradient_flow;
mod lora;
mod losses;
mod nonfinite;
mod player_isolation;
mod precision;
mod resume;
mod shards;
mod start_policy;
mod text_cond;
