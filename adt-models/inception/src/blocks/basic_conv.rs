//! `BasicConv2d`: the unit every Inception branch is built from.
//!
//! torchvision `inception.py`: `Conv2d(bias=False)` → `BatchNorm2d(eps=0.001)` →
//! ReLU. The batch norm always uses its running statistics here (the network is
//! frozen; see `InceptionV3Fid::freeze` in the loader).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// torchvision's `BatchNorm2d(out_channels, eps=0.001)` in `BasicConv2d`.
pub const BN_EPS: f64 = 1e-3;

/// Convolution geometry of one `BasicConv2d` (upstream's `kernel_size`, `stride`,
/// `padding` kwargs; `[height, width]` each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl ConvSpec {
    /// A stride-1, unpadded `kh × kw` convolution.
    pub const fn new(in_channels: usize, out_channels: usize, kernel: [usize; 2]) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel,
            stride: [1, 1],
            padding: [0, 0],
        }
    }

    /// A square `k × k` convolution, stride 1, no padding.
    pub const fn square(in_channels: usize, out_channels: usize, k: usize) -> Self {
        Self::new(in_channels, out_channels, [k, k])
    }

    pub const fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }

    /// Zero padding `[pad_h, pad_w]` on both sides.
    pub const fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
}

/// Conv (no bias) + BatchNorm (eps 0.001) + ReLU; fields named as upstream
/// (`conv`, `bn`).
#[derive(Module, Debug)]
pub struct BasicConv2d {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl BasicConv2d {
    pub fn new(spec: ConvSpec, device: &Device) -> Self {
        let [ph, pw] = spec.padding;
        Self {
            conv: Conv2dConfig::new([spec.in_channels, spec.out_channels], spec.kernel)
                .with_stride(spec.stride)
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(spec.out_channels)
                .with_epsilon(BN_EPS)
                .init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}
