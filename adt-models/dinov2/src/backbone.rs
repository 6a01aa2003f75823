//! The frozen DINOv2 backbone of the siamese discriminator: images in `[-1, 1]` →
//! resize to the backbone's input size → ImageNet normalisation → ViT → tapped
//! token maps and the final CLS / patch tokens. Parameters never receive gradients;
//! the input image does.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::resample::{ResizeMode, resize};
use crate::{Dinov2Error, Dinov2Model};

/// ImageNet mean / std (RGB), as DINOv2's image processor uses them.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Preprocessing of the backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackboneConfig {
    /// Input size `[height, width]` the images are resized to (224×224 by default,
    /// the ADD / StyleGAN-T practice; both must be multiples of the patch size for
    /// original-layout models).
    pub input_size: [usize; 2],
    /// Resize kernel. Default bilinear, `align_corners=False`, no antialias: exactly
    /// `F.interpolate(x, size, mode="bilinear", align_corners=False)`, the resize the
    /// ADD reimplementations put in front of DINOv2. Bicubic and antialias are
    /// available and equally exact to torch.
    pub resize: ResizeMode,
    pub antialias: bool,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self {
            input_size: [224, 224],
            resize: ResizeMode::Bilinear,
            antialias: false,
        }
    }
}

/// One tap: the token map of a hidden state split into CLS and patches.
#[derive(Debug, Clone)]
pub struct TapFeatures {
    /// The hidden-state index (0 = embeddings, i = after block i-1).
    pub index: usize,
    /// `[B, D]`
    pub cls: Tensor<2>,
    /// `[B, N, D]` (registers removed), row-major over the patch grid.
    pub patches: Tensor<3>,
}

/// What the discriminator consumes.
#[derive(Debug, Clone)]
pub struct BackboneFeatures {
    /// Final-normed CLS `[B, D]`.
    pub cls: Tensor<2>,
    /// Final-normed patch tokens `[B, N, D]`.
    pub patches: Tensor<3>,
    /// The requested taps, in request order.
    pub taps: Vec<TapFeatures>,
    /// Patch grid `(rows, cols)`.
    pub grid: [usize; 2],
}

/// A DINOv2 model with frozen parameters and its preprocessing.
#[derive(Module, Debug)]
pub struct Dinov2Backbone {
    pub model: Dinov2Model,
    #[module(skip)]
    config: BackboneConfig,
}

impl Dinov2Backbone {
    /// Wrap `model`, freezing every parameter (`require_grad = false`): a backward
    /// pass through [`features`](Self::features) then computes no parameter
    /// gradients, so no optimizer can move them.
    pub fn new(model: Dinov2Model, config: BackboneConfig) -> Result<Self, Dinov2Error> {
        let [h, w] = config.input_size;
        // Validate the input size once, with the model's own rules.
        model
            .embeddings
            .patch_grid(model.config().num_channels, h, w)?;
        Ok(Self {
            model: model.no_grad(),
            config,
        })
    }

    pub fn config(&self) -> &BackboneConfig {
        &self.config
    }

    /// Feature width `D`.
    pub fn hidden_size(&self) -> usize {
        self.model.config().hidden_size
    }

    /// Images `[B, 3, H, W]` with values in `[-1, 1]` → features at `taps`
    /// (transformers hidden-state indices: 0 = patch embedding + positions,
    /// i = output of block i-1; the discriminator default {3, 6, 9, 12} taps blocks
    /// 2, 5, 8, 11). Differentiable w.r.t. `images`.
    pub fn features(
        &self,
        images: Tensor<4>,
        taps: &[usize],
    ) -> Result<BackboneFeatures, Dinov2Error> {
        let x = self.preprocess(images)?;
        let out = self.model.forward_features(x, taps)?;
        let p = out.num_prefix_tokens;
        let split = |index: usize, t: Tensor<3>| {
            let [b, l, d] = t.dims();
            TapFeatures {
                index,
                cls: t.clone().slice([0..b, 0..1, 0..d]).reshape([b, d]),
                patches: t.slice([0..b, p..l, 0..d]),
            }
        };
        let patches = out.patch_tokens();
        Ok(BackboneFeatures {
            cls: out.pooler_output,
            patches,
            taps: taps
                .iter()
                .zip(out.taps)
                .map(|(&i, t)| split(i, t))
                .collect(),
            grid: out.grid,
        })
    }

    /// `[-1, 1]` images → resized, ImageNet-normalised `pixel_values`.
    pub fn preprocess(&self, images: Tensor<4>) -> Result<Tensor<4>, Dinov2Error> {
        let [_, c, h, w] = images.dims();
        if c != 3 {
            return Err(Dinov2Error::Input(format!(
                "the backbone takes RGB images [B, 3, H, W] in [-1, 1], got {c} channels"
            )));
        }
        if h == 0 || w == 0 {
            return Err(Dinov2Error::Input(format!("empty image {h}x{w}")));
        }
        let x = resize(
            images,
            self.config.input_size,
            self.config.resize,
            self.config.antialias,
        );
        let device = x.device();
        let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
        Ok(((x + 1.0) / 2.0 - mean) / std)
    }
}
