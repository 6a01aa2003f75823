//! Stable Diffusion's denoisers — the UNet ([`UNet2DConditionModel`], SD1.x/2.x/SDXL configs)
//! and SD3/SD3.5's MMDiT ([`Sd3Transformer2DModel`]) — and the KL autoencoder
//! ([`AutoencoderKL`], 4- and 16-channel) in burn, weight-exact against diffusers 0.37.1.
//!
//! - Built from the checkpoint's own `config.json` ([`UNet2DConditionConfig`],
//!   [`AutoencoderKLConfig`]); unsupported architecture options are rejected by name.
//! - Loads diffusers folders (f32 or the fp16 variant, upcast to f32) and original
//!   single files (`model.diffusion_model.*`, `first_stage_model.*`, see [`keys`]);
//!   exports back to diffusers' layout ([`UNet2DConditionModel::save_pretrained`]).
//! - Training-shaped: per-sample timesteps, everything differentiable under burn autodiff.

pub mod attention;
pub mod config_util;
pub mod embeddings;
pub mod error;
pub mod keys;
pub mod layers;
pub mod load;
pub mod mmdit;
pub mod resnet;
/// Reading parts of original single files (moved to `adt-models-common`, re-exported here).
pub use adt_models_common::single_file;
pub mod transformer;
pub mod unet;
pub mod vae;

pub use error::ConfigError;
pub use mmdit::{Sd3Transformer2DModel, Sd3TransformerConfig};
pub use unet::{AddedCond, UNet2DConditionConfig, UNet2DConditionModel};
pub use vae::{AutoencoderKL, AutoencoderKLConfig, DiagonalGaussian};
