//! The conditional denoising UNet.

pub mod blocks;
pub mod config;
pub mod model;

pub use config::UNet2DConditionConfig;
pub use model::{AddedCond, Taps, UNet2DConditionModel};
