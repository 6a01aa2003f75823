//! The KL autoencoder (latent <-> image).

pub mod blocks;
pub mod config;
pub mod model;

pub use config::AutoencoderKLConfig;
pub use model::{AutoencoderKL, Decoder, DiagonalGaussian, Encoder};
