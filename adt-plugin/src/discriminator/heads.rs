//! One discriminator head per backbone tap (StyleGAN-T `DiscHead`, projected/siamese variant).
//!
//! `h = lrelu(bn(sn_conv_k1(x)))`, then a residual block `h = (h + lrelu(bn(sn_conv_k(h)))) / √2`,
//! then `sn_conv_k1` to the projection width. Input tokens are `[B, N, C]` (CLS added to each
//! patch token by the caller), output `[B, D, N]`.

use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use super::batch_norm::LocalBatchNorm;
use super::spectral_norm::SnConv1d;
use crate::rng::EngineRng;

/// LeakyReLU slope of the heads.
pub const LEAKY_SLOPE: f64 = 0.2;

/// A head on one tap.
#[derive(Module, Debug)]
pub struct DiscHead {
    /// 1×1 spectral-norm conv.
    pub conv_in: SnConv1d,
    /// Local batch norm after `conv_in`.
    pub norm_in: LocalBatchNorm,
    /// Residual spectral-norm conv (kernel `head_kernel`, circular padding).
    pub conv_res: SnConv1d,
    /// Local batch norm of the residual branch.
    pub norm_res: LocalBatchNorm,
    /// 1×1 spectral-norm conv to the projection width.
    pub conv_out: SnConv1d,
}

impl DiscHead {
    /// A head for `channels`-wide tokens projecting to `out_dim`.
    pub fn new(
        channels: usize,
        out_dim: usize,
        kernel: usize,
        bn_group: usize,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        Self {
            conv_in: SnConv1d::new(channels, channels, 1, rng, device),
            norm_in: LocalBatchNorm::new(channels, bn_group, device),
            conv_res: SnConv1d::new(channels, channels, kernel, rng, device),
            norm_res: LocalBatchNorm::new(channels, bn_group, device),
            conv_out: SnConv1d::new(channels, out_dim, 1, rng, device),
        }
    }

    /// `[B, N, C]` tokens → `[B, D, N]` features.
    pub fn forward(&self, tokens: Tensor<3>) -> Tensor<3> {
        let x = tokens.swap_dims(1, 2);
        let h = leaky_relu(self.norm_in.forward(self.conv_in.forward(x)), LEAKY_SLOPE);
        let r = leaky_relu(
            self.norm_res.forward(self.conv_res.forward(h.clone())),
            LEAKY_SLOPE,
        );
        let h = (h + r).mul_scalar(std::f64::consts::FRAC_1_SQRT_2);
        self.conv_out.forward(h)
    }

    /// Advance every spectral-norm power iteration (after a D update).
    pub fn refreshed(self) -> Self {
        Self {
            conv_in: self.conv_in.refreshed(),
            conv_res: self.conv_res.refreshed(),
            conv_out: self.conv_out.refreshed(),
            ..self
        }
    }
}
