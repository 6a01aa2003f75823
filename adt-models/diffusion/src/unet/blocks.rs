//! The UNet's down, mid and up blocks (diffusers `unet_2d_blocks.py`).
//!
//! `CrossAttnDownBlock2D` and `DownBlock2D` share one struct ([`DownBlock2D`]) whose
//! `attentions` list is empty for the plain variant; likewise for the up blocks. Key
//! names are unaffected (`down_blocks.N.resnets.M...`, `down_blocks.N.attentions.M...`).

use burn::prelude::*;

use crate::resnet::{Downsample2D, ResnetBlock2D, ResnetSpec, Upsample2D};
use crate::transformer::{Transformer2DModel, TransformerSpec};

/// Parameters shared by every block of one UNet.
#[derive(Debug, Clone, Copy)]
pub struct BlockCommon {
    pub temb_channels: usize,
    pub groups: usize,
    pub eps: f64,
    pub use_linear_projection: bool,
}

/// Attention settings of one block (`None` for the plain variants).
#[derive(Debug, Clone, Copy)]
pub struct BlockAttention {
    pub heads: usize,
    pub transformer_layers: usize,
    pub cross_attention_dim: usize,
}

fn transformer(
    c: usize,
    common: BlockCommon,
    a: BlockAttention,
    device: &Device,
) -> Transformer2DModel {
    Transformer2DModel::new(
        TransformerSpec {
            channels: c,
            heads: a.heads,
            layers: a.transformer_layers,
            cross_attention_dim: a.cross_attention_dim,
            groups: common.groups,
            use_linear_projection: common.use_linear_projection,
        },
        device,
    )
}

fn resnet(
    cin: usize,
    cout: usize,
    common: BlockCommon,
    scale: f64,
    device: &Device,
) -> ResnetBlock2D {
    ResnetBlock2D::new(
        ResnetSpec {
            in_channels: cin,
            out_channels: cout,
            temb_channels: Some(common.temb_channels),
            groups: common.groups,
            eps: common.eps,
            output_scale_factor: scale,
        },
        device,
    )
}

/// `CrossAttnDownBlock2D` (with `attentions`) / `DownBlock2D` (without).
#[derive(Module, Debug)]
pub struct DownBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    pub downsamplers: Vec<Downsample2D>,
}

/// Shape of one down block.
#[derive(Debug, Clone, Copy)]
pub struct DownSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub layers: usize,
    pub add_downsample: bool,
    pub downsample_padding: usize,
    pub attention: Option<BlockAttention>,
}

impl DownBlock2D {
    pub fn new(s: DownSpec, common: BlockCommon, device: &Device) -> Self {
        let resnets = (0..s.layers)
            .map(|i| {
                let cin = if i == 0 {
                    s.in_channels
                } else {
                    s.out_channels
                };
                resnet(cin, s.out_channels, common, 1.0, device)
            })
            .collect();
        let attentions = match s.attention {
            Some(a) => (0..s.layers)
                .map(|_| transformer(s.out_channels, common, a, device))
                .collect(),
            None => Vec::new(),
        };
        let downsamplers = if s.add_downsample {
            vec![Downsample2D::new(
                s.out_channels,
                s.downsample_padding,
                device,
            )]
        } else {
            Vec::new()
        };
        Self {
            resnets,
            attentions,
            downsamplers,
        }
    }

    /// Returns the block output and the skip tensors it contributes (one per resnet, plus
    /// the downsampled output).
    pub fn forward(
        &self,
        x: Tensor<4>,
        temb: &Tensor<2>,
        context: &Tensor<3>,
    ) -> (Tensor<4>, Vec<Tensor<4>>) {
        let mut x = x;
        let mut skips = Vec::with_capacity(self.resnets.len() + 1);
        for (i, resnet) in self.resnets.iter().enumerate() {
            x = resnet.forward(x, Some(temb));
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x, context);
            }
            skips.push(x.clone());
        }
        for down in &self.downsamplers {
            x = down.forward(x);
            skips.push(x.clone());
        }
        (x, skips)
    }
}

/// `UNetMidBlock2DCrossAttn` (resnet, transformer, resnet) or, with no `attentions`,
/// the UNet's `UNetMidBlock2D` (one resnet: diffusers builds it with `num_layers=0`).
#[derive(Module, Debug)]
pub struct MidBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
}

impl MidBlock2D {
    pub fn new(
        channels: usize,
        attention: Option<BlockAttention>,
        scale: f64,
        common: BlockCommon,
        device: &Device,
    ) -> Self {
        let n_resnets = if attention.is_some() { 2 } else { 1 };
        Self {
            resnets: (0..n_resnets)
                .map(|_| resnet(channels, channels, common, scale, device))
                .collect(),
            attentions: attention
                .map(|a| vec![transformer(channels, common, a, device)])
                .unwrap_or_default(),
        }
    }

    pub fn forward(&self, x: Tensor<4>, temb: &Tensor<2>, context: &Tensor<3>) -> Tensor<4> {
        let mut x = self.resnets[0].forward(x, Some(temb));
        for (attn, resnet) in self.attentions.iter().zip(&self.resnets[1..]) {
            x = attn.forward(x, context);
            x = resnet.forward(x, Some(temb));
        }
        x
    }
}

/// `CrossAttnUpBlock2D` (with `attentions`) / `UpBlock2D` (without).
#[derive(Module, Debug)]
pub struct UpBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    pub upsamplers: Vec<Upsample2D>,
}

/// Shape of one up block (diffusers' `in_channels`, `prev_output_channel`, `out_channels`).
#[derive(Debug, Clone, Copy)]
pub struct UpSpec {
    pub in_channels: usize,
    pub prev_output_channel: usize,
    pub out_channels: usize,
    pub layers: usize,
    pub add_upsample: bool,
    pub attention: Option<BlockAttention>,
}

impl UpBlock2D {
    pub fn new(s: UpSpec, common: BlockCommon, device: &Device) -> Self {
        let resnets = (0..s.layers)
            .map(|i| {
                let skip = if i == s.layers - 1 {
                    s.in_channels
                } else {
                    s.out_channels
                };
                let cin = if i == 0 {
                    s.prev_output_channel
                } else {
                    s.out_channels
                };
                resnet(cin + skip, s.out_channels, common, 1.0, device)
            })
            .collect();
        let attentions = match s.attention {
            Some(a) => (0..s.layers)
                .map(|_| transformer(s.out_channels, common, a, device))
                .collect(),
            None => Vec::new(),
        };
        let upsamplers = if s.add_upsample {
            vec![Upsample2D::new(s.out_channels, device)]
        } else {
            Vec::new()
        };
        Self {
            resnets,
            attentions,
            upsamplers,
        }
    }

    /// `skips`: the stack of skip tensors; this block pops one per resnet from the end.
    /// `upsample_size`: the spatial size of the next skip (diffusers' `upsample_size`).
    pub fn forward(
        &self,
        x: Tensor<4>,
        skips: &mut Vec<Tensor<4>>,
        temb: &Tensor<2>,
        context: &Tensor<3>,
    ) -> Tensor<4> {
        let mut x = x;
        for (i, resnet) in self.resnets.iter().enumerate() {
            let skip = skips
                .pop()
                .expect("the UNet provides one skip tensor per up-block resnet");
            x = resnet.forward(Tensor::cat(vec![x, skip], 1), Some(temb));
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x, context);
            }
        }
        for up in &self.upsamplers {
            let size = skips.last().map(|s| {
                let [_, _, h, w] = s.dims();
                [h, w]
            });
            x = up.forward(x, size);
        }
        x
    }
}
