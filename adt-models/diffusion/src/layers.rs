//! Constructors for the burn layers the diffusers modules are made of, with PyTorch's
//! hyper-parameters (padding, bias, eps) spelled out at each call site.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;

/// `nn.Conv2d(cin, cout, k, stride, padding=pad)` with bias.
pub fn conv2d(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

/// `nn.Conv2d` whose padding is applied asymmetrically: (top, left, bottom, right).
pub fn conv2d_padded(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: (usize, usize, usize, usize),
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad.0, pad.1, pad.2, pad.3))
        .init(device)
}

/// `nn.Linear(din, dout, bias)`.
pub fn linear(din: usize, dout: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(din, dout).with_bias(bias).init(device)
}

/// `nn.GroupNorm(groups, channels, eps, affine=True)`.
pub fn group_norm(groups: usize, channels: usize, eps: f64, device: &Device) -> GroupNorm {
    GroupNormConfig::new(groups, channels)
        .with_epsilon(eps)
        .init(device)
}

/// `nn.LayerNorm(dim, eps, elementwise_affine=True)`.
pub fn layer_norm(dim: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(dim).with_epsilon(eps).init(device)
}

/// `[B, C, H, W]` -> `[B, H*W, C]` (token layout for attention).
pub fn to_tokens(x: Tensor<4>) -> Tensor<3> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).swap_dims(1, 2)
}

/// `[B, H*W, C]` -> `[B, C, H, W]`.
pub fn from_tokens(x: Tensor<3>, h: usize, w: usize) -> Tensor<4> {
    let [b, _, c] = x.dims();
    x.swap_dims(1, 2).reshape([b, c, h, w])
}
