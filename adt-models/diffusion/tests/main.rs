//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod attention_grad;
mod bad_input;
mod bf16;
mod common;
mod export;
mod single_file;
mod unet_sd15;
mod unet_sdxl;
mod vae;
