//! `ResnetBlock2D`, `Downsample2D`, `Upsample2D` (diffusers `resnet.py`, `downsampling.py`,
//! `upsampling.py`), shared by the UNet (with a time embedding) and the VAE (without).

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::layers::{conv2d, conv2d_padded, group_norm, linear};

/// Hyper-parameters of one `ResnetBlock2D`.
#[derive(Debug, Clone, Copy)]
pub struct ResnetSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    /// `None` for the VAE (no `time_emb_proj`).
    pub temb_channels: Option<usize>,
    pub groups: usize,
    pub eps: f64,
    pub output_scale_factor: f64,
}

/// `ResnetBlock2D` with `time_embedding_norm="default"`, SiLU, `conv_shortcut` (1x1) when
/// the channel count changes: `(shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + temb)))) / scale`.
#[derive(Module, Debug)]
pub struct ResnetBlock2D {
    pub norm1: GroupNorm,
    pub conv1: Conv2d,
    pub time_emb_proj: Option<Linear>,
    pub norm2: GroupNorm,
    pub conv2: Conv2d,
    pub conv_shortcut: Option<Conv2d>,
    pub output_scale_factor: f64,
}

impl ResnetBlock2D {
    pub fn new(s: ResnetSpec, device: &Device) -> Self {
        Self {
            norm1: group_norm(s.groups, s.in_channels, s.eps, device),
            conv1: conv2d(s.in_channels, s.out_channels, 3, 1, 1, device),
            time_emb_proj: s
                .temb_channels
                .map(|t| linear(t, s.out_channels, true, device)),
            norm2: group_norm(s.groups, s.out_channels, s.eps, device),
            conv2: conv2d(s.out_channels, s.out_channels, 3, 1, 1, device),
            conv_shortcut: (s.in_channels != s.out_channels)
                .then(|| conv2d(s.in_channels, s.out_channels, 1, 1, 0, device)),
            output_scale_factor: s.output_scale_factor,
        }
    }

    /// `x` `[B, Cin, H, W]`, `temb` `[B, T]` (already the block-level embedding, before SiLU).
    pub fn forward(&self, x: Tensor<4>, temb: Option<&Tensor<2>>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let h = match (&self.time_emb_proj, temb) {
            (Some(proj), Some(t)) => {
                let t = proj.forward(silu(t.clone()));
                let [b, c] = t.dims();
                h + t.reshape([b, c, 1, 1])
            }
            _ => h,
        };
        let h = self.conv2.forward(silu(self.norm2.forward(h)));
        let shortcut = match &self.conv_shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        let out = shortcut + h;
        if self.output_scale_factor == 1.0 {
            out
        } else {
            out / self.output_scale_factor
        }
    }
}

/// `Downsample2D` with a conv: stride-2 3x3 conv. The UNet pads symmetrically
/// (`downsample_padding`); the VAE uses padding 0 after `F.pad(x, (0, 1, 0, 1))`.
#[derive(Module, Debug)]
pub struct Downsample2D {
    pub conv: Conv2d,
}

impl Downsample2D {
    /// UNet form: `padding` on every side.
    pub fn new(channels: usize, padding: usize, device: &Device) -> Self {
        Self {
            conv: conv2d(channels, channels, 3, 2, padding, device),
        }
    }

    /// VAE form: zero padding of one row at the bottom and one column at the right.
    pub fn new_vae(channels: usize, device: &Device) -> Self {
        Self {
            conv: conv2d_padded(channels, channels, 3, 2, (0, 0, 1, 1), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(x)
    }
}

/// `Upsample2D` with a conv: nearest 2x (or to an explicit size) then a 3x3 conv.
#[derive(Module, Debug)]
pub struct Upsample2D {
    pub conv: Conv2d,
}

impl Upsample2D {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv: conv2d(channels, channels, 3, 1, 1, device),
        }
    }

    /// `size`: the target `[H, W]` (diffusers' `upsample_size`), `None` for exactly 2x.
    pub fn forward(&self, x: Tensor<4>, size: Option<[usize; 2]>) -> Tensor<4> {
        self.conv.forward(upsample_nearest(x, size))
    }
}

/// Nearest-neighbour upsampling. Exactly 2x is done with broadcast copies (bit-exact,
/// cheap backward: sums); any other size uses `interpolate(Nearest)` like PyTorch.
pub fn upsample_nearest(x: Tensor<4>, size: Option<[usize; 2]>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let size = size.unwrap_or([2 * h, 2 * w]);
    if size == [2 * h, 2 * w] {
        // Columns, then rows: each copy has a layout the CPU backend copies in bulk (a
        // [n, 2] broadcast, then whole rows), where the one-step [h, 2, w, 2] broadcast
        // went element by element on one thread.
        let wide = x
            .reshape([b, c, h, w, 1])
            .expand([b, c, h, w, 2])
            .reshape([b, c, h, 2 * w]);
        wide.reshape([b, c, h, 1, 2 * w])
            .expand([b, c, h, 2, 2 * w])
            .reshape([b, c, 2 * h, 2 * w])
    } else {
        interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Nearest).with_output_size(size),
        )
    }
}
