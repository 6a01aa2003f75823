//! Codecs: the identity (pixel-space models) and a tiny 1×1-conv "latent" codec with parameters,
//! so the frozen-codec checks have something to check.

use burn::prelude::*;

use super::layers::ToyConv;
use crate::rng::EngineRng;
use crate::traits::Codec;

/// Pixel-space models: encode and decode are the identity.
#[derive(Module, Debug, Default)]
pub struct IdentityCodec {}

impl Codec for IdentityCodec {
    fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        images
    }
    fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        latents
    }
}

/// `encode = scale · conv1x1(3 → c)`, `decode = conv1x1(c → 3)(latents / scale)`.
#[derive(Module, Debug)]
pub struct ToyLatentCodec {
    /// Encoder 1×1 conv.
    pub enc: ToyConv,
    /// Decoder 1×1 conv.
    pub dec: ToyConv,
    /// Latent scaling factor (like SD's 0.18215).
    #[module(skip)]
    pub scale: f32,
}

impl ToyLatentCodec {
    /// A codec with `latent_channels` channels.
    pub fn new(latent_channels: usize, rng: &mut EngineRng, device: &Device) -> Self {
        Self {
            enc: ToyConv::new(3, latent_channels, 1, 1, rng, device),
            dec: ToyConv::new(latent_channels, 3, 1, 1, rng, device),
            scale: 0.5,
        }
    }
}

impl Codec for ToyLatentCodec {
    fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        self.enc.forward(images).mul_scalar(self.scale)
    }
    fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        self.dec.forward(latents.div_scalar(self.scale))
    }
}
