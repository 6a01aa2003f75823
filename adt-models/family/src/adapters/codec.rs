//! The frozen codec: [`AutoencoderKL`] as the engine's [`Codec`], in diffusion-space latents,
//! and [`LatentCodec`], what the pipeline needs beyond the engine's seam.

use std::path::Path;

use adt_diffusion::{AutoencoderKL, AutoencoderKLConfig};
use adt_models_common::{ModelSource, read_config};
use adt_plugin::traits::Codec;
use burn::prelude::*;

use crate::error::Result;

/// A codec the sampling pipeline can drive: its latent geometry, a posterior *sample* for
/// img2img (diffusers' `latent_dist.sample(generator)`; the engine's `encode` is the mean),
/// and loading from a component folder (`--vae DIR`).
pub trait LatentCodec: Codec + Sized {
    /// Latent channels.
    fn latent_channels(&self) -> usize;
    /// Pixels per latent cell along each side.
    fn downscale(&self) -> usize;
    /// Images `[B,3,H,W]` in `[-1,1]` → scaled latents of a posterior sample drawn with the
    /// standard-normal `noise` (shaped like the latents).
    fn encode_sample(&self, images: Tensor<4>, noise: Tensor<4>) -> Tensor<4>;
    /// Load a component folder (`config.json` + weights; `subfolder` may be empty).
    fn from_component(source: &ModelSource, subfolder: &str, device: &Device) -> Result<Self>;
}

/// The VAE with its `scaling_factor` / `shift_factor` applied on both sides, so the engine
/// sees the latents the UNet was trained on.
#[derive(Module, Debug)]
pub struct VaeCodec {
    pub vae: AutoencoderKL,
}

impl VaeCodec {
    pub fn new(vae: AutoencoderKL) -> Self {
        Self { vae }
    }

    /// The VAE of an original single file (`first_stage_model.*`); the config comes from
    /// `configs`' `vae/config.json`.
    pub fn from_single_file(path: &Path, configs: &ModelSource, device: &Device) -> Result<Self> {
        let config: AutoencoderKLConfig = read_config(&configs.file("vae/config.json")?)?;
        Ok(Self::new(AutoencoderKL::from_single_file(
            path, &config, device,
        )?))
    }
}

impl Codec for VaeCodec {
    /// The posterior mean, scaled: deterministic, as the engine's contract asks (data
    /// latents for `L_diff` and the image-to-image start).
    fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        self.vae.scale_latents(self.vae.encode(images).mean)
    }

    /// `decode(z / scaling_factor + shift_factor)`; differentiable w.r.t. the latents.
    ///
    /// diffusers' SD1.x/SDXL pipelines ignore `shift_factor` (their VAEs have none); SD3's
    /// apply it. Applying it always is exact for both.
    fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        self.vae.decode_scaled(latents)
    }
}

impl LatentCodec for VaeCodec {
    fn latent_channels(&self) -> usize {
        self.vae.config().latent_channels
    }

    /// `2^(len(block_out_channels) - 1)`, 8 for SD.
    fn downscale(&self) -> usize {
        1 << (self.vae.config().block_out_channels.len() - 1)
    }

    fn encode_sample(&self, images: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        let posterior = self.vae.encode(images);
        self.vae.scale_latents(posterior.sample_with(noise))
    }

    fn from_component(source: &ModelSource, subfolder: &str, device: &Device) -> Result<Self> {
        Ok(Self::new(AutoencoderKL::from_pretrained(
            source, subfolder, device,
        )?))
    }
}
