//! A ViT-shaped toy feature network: patch embedding, a CLS token, two residual MLP blocks; taps
//! after the patch embedding and after each block. Resizes and normalises its input itself (as
//! the DINOv2 adapter does), differentiably.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::gelu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::layers::{ToyConv, ToyLinear};
use crate::rng::EngineRng;
use crate::traits::{Backbone, BackboneFeatures, Tap};

/// ImageNet mean (the real backbone's normalisation).
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet std.
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The toy backbone.
#[derive(Module, Debug)]
pub struct ToyBackbone {
    /// Patchify conv (kernel = stride = patch).
    pub patch_embed: ToyConv,
    /// CLS token `[C]`.
    pub cls_token: Param<Tensor<1>>,
    /// Token MLP of each block.
    pub blocks: Vec<ToyLinear>,
    /// CLS update of each block.
    pub cls_blocks: Vec<ToyLinear>,
    /// Input side the backbone resizes to.
    #[module(skip)]
    pub image_size: usize,
}

impl ToyBackbone {
    /// Width `dim`, `patch`-pixel patches over `image_size`² inputs, 2 blocks (3 taps).
    pub fn new(
        dim: usize,
        patch: usize,
        image_size: usize,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        Self {
            patch_embed: ToyConv::new(3, dim, patch, patch, rng, device),
            cls_token: Param::from_tensor(rng.normal_tensor([dim], device)),
            blocks: (0..2)
                .map(|_| ToyLinear::new(dim, dim, rng, device))
                .collect(),
            cls_blocks: (0..2)
                .map(|_| ToyLinear::new(dim, dim, rng, device))
                .collect(),
            image_size,
        }
    }

    fn dim(&self) -> usize {
        self.cls_token.dims()[0]
    }
}

impl Backbone for ToyBackbone {
    fn tap_channels(&self) -> Vec<usize> {
        vec![self.dim(); 1 + self.blocks.len()]
    }

    fn embed_dim(&self) -> usize {
        self.dim()
    }

    fn forward(&self, images: Tensor<4>) -> BackboneFeatures {
        let [b, _, h, w] = images.dims();
        let device = images.device();
        let s = self.image_size;
        let x = if [h, w] != [s, s] {
            interpolate(
                images,
                InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([s, s]),
            )
        } else {
            images
        };
        let mean = Tensor::<1>::from_data(TensorData::new(MEAN.to_vec(), [3]), &device)
            .reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_data(TensorData::new(STD.to_vec(), [3]), &device)
            .reshape([1, 3, 1, 1]);
        let x = (x.add_scalar(1.0).mul_scalar(0.5) - mean) / std;
        // Preprocessing in f32, the network in its weights' dtype (transformers' DINOv2 casts
        // pixel_values to the patch projection's dtype).
        let x = x.cast(self.patch_embed.weight.val().dtype());
        let p = self.patch_embed.forward(x);
        let [_, c, gh, gw] = p.dims();
        let mut tokens = p.reshape([b, c, gh * gw]).swap_dims(1, 2);
        let mut cls = self.cls_token.val().unsqueeze::<2>().repeat_dim(0, b)
            + tokens.clone().mean_dim(1).reshape([b, c]);
        let mut taps = vec![Tap {
            tokens: tokens.clone(),
            cls: cls.clone(),
        }];
        for (blk, cblk) in self.blocks.iter().zip(&self.cls_blocks) {
            tokens = tokens.clone() + gelu(blk.forward3(tokens));
            cls = cls.clone() + gelu(cblk.forward2(tokens.clone().mean_dim(1).reshape([b, c])));
            taps.push(Tap {
                tokens: tokens.clone(),
                cls: cls.clone(),
            });
        }
        let mu = cls.clone().mean_dim(1);
        let centered = cls - mu;
        let var = centered.clone().powi_scalar(2).mean_dim(1);
        let cls = centered / var.add_scalar(1e-6).sqrt();
        BackboneFeatures { taps, cls }
    }
}
