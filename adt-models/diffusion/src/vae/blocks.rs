//! The VAE's encoder/decoder blocks (diffusers `unet_2d_blocks.py`: `DownEncoderBlock2D`,
//! `UpDecoderBlock2D`, `UNetMidBlock2D`), all without a time embedding, GroupNorm eps 1e-6.

use burn::prelude::*;

use crate::attention::Attention;
use crate::layers::group_norm;
use crate::resnet::{Downsample2D, ResnetBlock2D, ResnetSpec, Upsample2D};

/// diffusers' `resnet_eps` for the VAE.
pub const VAE_EPS: f64 = 1e-6;

fn resnet(cin: usize, cout: usize, groups: usize, device: &Device) -> ResnetBlock2D {
    ResnetBlock2D::new(
        ResnetSpec {
            in_channels: cin,
            out_channels: cout,
            temb_channels: None,
            groups,
            eps: VAE_EPS,
            output_scale_factor: 1.0,
        },
        device,
    )
}

/// `DownEncoderBlock2D`: resnets, then (except in the last block) a stride-2 conv with
/// `(0, 1, 0, 1)` padding.
#[derive(Module, Debug)]
pub struct DownEncoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub downsamplers: Vec<Downsample2D>,
}

impl DownEncoderBlock2D {
    pub fn new(
        cin: usize,
        cout: usize,
        layers: usize,
        add_downsample: bool,
        groups: usize,
        device: &Device,
    ) -> Self {
        Self {
            resnets: (0..layers)
                .map(|i| resnet(if i == 0 { cin } else { cout }, cout, groups, device))
                .collect(),
            downsamplers: if add_downsample {
                vec![Downsample2D::new_vae(cout, device)]
            } else {
                Vec::new()
            },
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.resnets.iter().fold(x, |x, r| r.forward(x, None));
        self.downsamplers.iter().fold(x, |x, d| d.forward(x))
    }
}

/// `UpDecoderBlock2D`: resnets, then (except in the last block) nearest 2x + 3x3 conv.
#[derive(Module, Debug)]
pub struct UpDecoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub upsamplers: Vec<Upsample2D>,
}

impl UpDecoderBlock2D {
    pub fn new(
        cin: usize,
        cout: usize,
        layers: usize,
        add_upsample: bool,
        groups: usize,
        device: &Device,
    ) -> Self {
        Self {
            resnets: (0..layers)
                .map(|i| resnet(if i == 0 { cin } else { cout }, cout, groups, device))
                .collect(),
            upsamplers: if add_upsample {
                vec![Upsample2D::new(cout, device)]
            } else {
                Vec::new()
            },
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.resnets.iter().fold(x, |x, r| r.forward(x, None));
        self.upsamplers.iter().fold(x, |x, u| u.forward(x, None))
    }
}

/// `UNetMidBlock2D` as the VAE builds it: resnet, single-head self-attention over pixels
/// (`attention_head_dim = channels`; omitted when `mid_block_add_attention` is false),
/// resnet.
#[derive(Module, Debug)]
pub struct VaeMidBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Attention>,
}

impl VaeMidBlock2D {
    pub fn new(channels: usize, groups: usize, add_attention: bool, device: &Device) -> Self {
        let attentions = if add_attention {
            let mut attn = Attention::new(channels, channels, 1, channels, true, device);
            attn.group_norm = Some(group_norm(groups, channels, VAE_EPS, device));
            vec![attn]
        } else {
            Vec::new()
        };
        Self {
            resnets: (0..2)
                .map(|_| resnet(channels, channels, groups, device))
                .collect(),
            attentions,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.resnets[0].forward(x, None);
        if let Some(attn) = self.attentions.first() {
            x = attn.forward_spatial(x);
        }
        self.resnets[1].forward(x, None)
    }
}
