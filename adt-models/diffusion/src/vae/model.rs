//! `AutoencoderKL` with its `Encoder` and `Decoder` (diffusers `autoencoder_kl.py`, `vae.py`).

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::silu;

use super::blocks::{DownEncoderBlock2D, UpDecoderBlock2D, VAE_EPS, VaeMidBlock2D};
use super::config::AutoencoderKLConfig;
use crate::error::ConfigError;
use crate::layers::{conv2d, group_norm};

/// Image -> `2 * latent_channels` moments (mean and log-variance).
#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv2d,
    pub down_blocks: Vec<DownEncoderBlock2D>,
    pub mid_block: VaeMidBlock2D,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

impl Encoder {
    fn new(c: &AutoencoderKLConfig, device: &Device) -> Self {
        let boc = &c.block_out_channels;
        let n = boc.len();
        let g = c.norm_num_groups;
        Self {
            conv_in: conv2d(c.in_channels, boc[0], 3, 1, 1, device),
            down_blocks: (0..n)
                .map(|i| {
                    let cin = if i == 0 { boc[0] } else { boc[i - 1] };
                    DownEncoderBlock2D::new(cin, boc[i], c.layers_per_block, i + 1 < n, g, device)
                })
                .collect(),
            mid_block: VaeMidBlock2D::new(boc[n - 1], g, c.mid_block_add_attention, device),
            conv_norm_out: group_norm(g, boc[n - 1], VAE_EPS, device),
            conv_out: conv2d(boc[n - 1], 2 * c.latent_channels, 3, 1, 1, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv_in.forward(x);
        let x = self.down_blocks.iter().fold(x, |x, b| b.forward(x));
        let x = self.mid_block.forward(x);
        self.conv_out.forward(silu(self.conv_norm_out.forward(x)))
    }
}

/// Latents -> image.
#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv2d,
    pub mid_block: VaeMidBlock2D,
    pub up_blocks: Vec<UpDecoderBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

impl Decoder {
    fn new(c: &AutoencoderKLConfig, device: &Device) -> Self {
        let rev: Vec<usize> = c.block_out_channels.iter().rev().copied().collect();
        let n = rev.len();
        let g = c.norm_num_groups;
        Self {
            conv_in: conv2d(c.latent_channels, rev[0], 3, 1, 1, device),
            mid_block: VaeMidBlock2D::new(rev[0], g, c.mid_block_add_attention, device),
            up_blocks: (0..n)
                .map(|i| {
                    let cin = if i == 0 { rev[0] } else { rev[i - 1] };
                    UpDecoderBlock2D::new(cin, rev[i], c.layers_per_block + 1, i + 1 < n, g, device)
                })
                .collect(),
            conv_norm_out: group_norm(g, rev[n - 1], VAE_EPS, device),
            conv_out: conv2d(rev[n - 1], c.out_channels, 3, 1, 1, device),
        }
    }

    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let x = self.conv_in.forward(z);
        let x = self.mid_block.forward(x);
        let x = self.up_blocks.iter().fold(x, |x, b| b.forward(x));
        self.conv_out.forward(silu(self.conv_norm_out.forward(x)))
    }
}

/// The encoder's posterior `N(mean, exp(logvar))` per latent element.
#[derive(Debug, Clone)]
pub struct DiagonalGaussian {
    pub mean: Tensor<4>,
    /// Clamped to `[-30, 20]` as diffusers does.
    pub logvar: Tensor<4>,
}

impl DiagonalGaussian {
    /// `exp(0.5 * logvar)`.
    pub fn std(&self) -> Tensor<4> {
        (self.logvar.clone() * 0.5).exp()
    }

    /// `mean + std * noise`, with the caller's standard-normal `noise` (reproducible and
    /// differentiable with respect to mean and logvar).
    pub fn sample_with(&self, noise: Tensor<4>) -> Tensor<4> {
        self.mean.clone() + self.std() * noise
    }

    /// The posterior mean (diffusers' `mode()`).
    pub fn mode(&self) -> Tensor<4> {
        self.mean.clone()
    }
}

/// The KL autoencoder of Stable Diffusion.
#[derive(Module, Debug)]
pub struct AutoencoderKL {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub quant_conv: Option<Conv2d>,
    pub post_quant_conv: Option<Conv2d>,
    #[module(skip)]
    config: AutoencoderKLConfig,
}

impl AutoencoderKL {
    /// Build with freshly initialised weights from a config (validated first).
    pub fn new(config: &AutoencoderKLConfig, device: &Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let l2 = 2 * config.latent_channels;
        let l = config.latent_channels;
        Ok(Self {
            encoder: Encoder::new(config, device),
            decoder: Decoder::new(config, device),
            quant_conv: config
                .use_quant_conv
                .then(|| conv2d(l2, l2, 1, 1, 0, device)),
            post_quant_conv: config
                .use_post_quant_conv
                .then(|| conv2d(l, l, 1, 1, 0, device)),
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &AutoencoderKLConfig {
        &self.config
    }

    /// `scaling_factor` from the config (0.18215 for SD1.x, 0.13025 for SDXL, ...).
    pub fn scaling_factor(&self) -> f64 {
        self.config.scaling_factor
    }

    /// `shift_factor` from the config (0 when absent, as for SD1.x/SDXL).
    pub fn shift_factor(&self) -> f64 {
        self.config.shift_factor.unwrap_or(0.0)
    }

    /// Image `[B, in_channels, H, W]` (values in [-1, 1]) -> posterior over latents
    /// `[B, latent_channels, H/f, W/f]`.
    pub fn encode(&self, x: Tensor<4>) -> DiagonalGaussian {
        let h = self.encoder.forward(x);
        let moments = match &self.quant_conv {
            Some(conv) => conv.forward(h),
            None => h,
        };
        let [mean, logvar]: [Tensor<4>; 2] = moments
            .chunk(2, 1)
            .try_into()
            .expect("moments split in two");
        DiagonalGaussian {
            mean,
            logvar: logvar.clamp(-30.0, 20.0),
        }
    }

    /// Latents (unscaled, i.e. already divided by `scaling_factor` and shifted back) ->
    /// image. Differentiable with respect to `z`.
    pub fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        let z = match &self.post_quant_conv {
            Some(conv) => conv.forward(z),
            None => z,
        };
        self.decoder.forward(z)
    }

    /// Encoder-space latents -> diffusion-space latents: `(z - shift) * scale`.
    pub fn scale_latents(&self, z: Tensor<4>) -> Tensor<4> {
        (z - self.shift_factor()) * self.scaling_factor()
    }

    /// Diffusion-space latents -> decoder input: `z / scale + shift`.
    pub fn unscale_latents(&self, z: Tensor<4>) -> Tensor<4> {
        z / self.scaling_factor() + self.shift_factor()
    }

    /// `decode(unscale_latents(z))`: what a pipeline calls on the sampler's output.
    pub fn decode_scaled(&self, z: Tensor<4>) -> Tensor<4> {
        self.decode(self.unscale_latents(z))
    }
}
