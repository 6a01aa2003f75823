//! The frozen codec: [`AutoencoderKL`] as the engine's [`Codec`], in diffusion-space latents.

use adt_diffusion::AutoencoderKL;
use adt_plugin::traits::Codec;
use burn::prelude::*;

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

    /// Pixels per latent cell along each side (`2^(len(block_out_channels) - 1)`, 8 for SD).
    pub fn downscale(&self) -> usize {
        1 << (self.vae.config().block_out_channels.len() - 1)
    }

    /// Latent channels.
    pub fn latent_channels(&self) -> usize {
        self.vae.config().latent_channels
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
