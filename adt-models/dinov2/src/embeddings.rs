//! Patch embedding, CLS / register tokens and the interpolated position table
//! (transformers `Dinov2Embeddings` / `Dinov2WithRegistersEmbeddings`).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::DType;

use crate::Dinov2Error;
use crate::config::{Dinov2Config, Layout, PosInterpolation};
use crate::resample::{ResizeMode, Sampling, resize_grid};

/// `patch_embeddings.projection`: a stride-`patch` convolution.
#[derive(Module, Debug)]
pub struct Dinov2PatchEmbeddings {
    pub projection: Conv2d,
}

/// Token embeddings. Parameter names are transformers' (`embeddings.*`).
#[derive(Module, Debug)]
pub struct Dinov2Embeddings {
    /// `[1, 1, D]`
    pub cls_token: Param<Tensor<3>>,
    /// `[1, D]`; only used for masked-image pre-training, kept so checkpoints load
    /// strictly and export unchanged.
    pub mask_token: Option<Param<Tensor<2>>>,
    /// `[1, R, D]` (registers variant only).
    pub register_tokens: Option<Param<Tensor<3>>>,
    /// `[1, 1 + M², D]`: the CLS position followed by the M×M patch grid.
    pub position_embeddings: Param<Tensor<3>>,
    pub patch_embeddings: Dinov2PatchEmbeddings,
    #[module(skip)]
    patch_size: usize,
    #[module(skip)]
    num_channels: usize,
    #[module(skip)]
    interpolation: PosInterpolation,
    #[module(skip)]
    layout: Layout,
}

impl Dinov2Embeddings {
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        let d = config.hidden_size;
        let p = config.patch_size;
        let m = config.grid_size();
        let zeros3 = |shape: [usize; 3]| Param::from_tensor(Tensor::zeros(shape, device));
        Self {
            cls_token: zeros3([1, 1, d]),
            mask_token: config
                .use_mask_token
                .then(|| Param::from_tensor(Tensor::zeros([1, d], device))),
            register_tokens: (config.num_register_tokens > 0)
                .then(|| zeros3([1, config.num_register_tokens, d])),
            position_embeddings: zeros3([1, 1 + m * m, d]),
            patch_embeddings: Dinov2PatchEmbeddings {
                projection: Conv2dConfig::new([config.num_channels, d], [p, p])
                    .with_stride([p, p])
                    .init(device),
            },
            patch_size: p,
            num_channels: config.num_channels,
            interpolation: config.interpolation,
            layout: config.layout,
        }
    }

    /// The patch grid `(rows, cols)` an image of `height × width` pixels produces,
    /// or why it cannot be embedded.
    pub fn patch_grid(
        &self,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<[usize; 2], Dinov2Error> {
        let p = self.patch_size;
        if channels != self.num_channels {
            return Err(Dinov2Error::Input(format!(
                "expected {} channels (RGB) in pixel_values [B, C, H, W], got {channels}",
                self.num_channels
            )));
        }
        if height < p || width < p {
            return Err(Dinov2Error::Input(format!(
                "image {height}x{width} is smaller than one {p}x{p} patch"
            )));
        }
        if self.layout == Layout::Original
            && (!height.is_multiple_of(p) || !width.is_multiple_of(p))
        {
            return Err(Dinov2Error::Input(format!(
                "image {height}x{width} is not a multiple of the patch size {p} \
                 (the original DINOv2 layout requires it; resize or crop first)"
            )));
        }
        Ok([height / p, width / p])
    }

    /// `[B, C, H, W]` → `[B, 1 + R + N, D]`: CLS, registers, patch tokens, with
    /// the position table (interpolated to the patch grid) added to CLS and patches.
    pub fn forward(&self, pixel_values: Tensor<4>) -> Result<Tensor<3>, Dinov2Error> {
        let [b, c, h, w] = pixel_values.dims();
        let [gh, gw] = self.patch_grid(c, h, w)?;
        // The convolution drops a remainder that is not a multiple of the patch
        // (transformers semantics); crop explicitly so every backend agrees.
        let p = self.patch_size;
        let x = if h != gh * p || w != gw * p {
            pixel_values.slice([0..b, 0..c, 0..gh * p, 0..gw * p])
        } else {
            pixel_values
        };
        // As transformers: pixel_values in the patch projection's dtype (bf16 weights run the
        // network in bf16; preprocessing stays f32).
        let x = x.cast(self.patch_embeddings.projection.weight.val().dtype());
        let patches = self.patch_embeddings.projection.forward(x); // [B, D, gh, gw]
        let d = patches.dims()[1];
        let patches = patches.reshape([b, d, gh * gw]).swap_dims(1, 2);
        let cls = self.cls_token.val().expand([b, 1, d]);
        let tokens = Tensor::cat(vec![cls, patches], 1);
        let tokens = tokens + self.position_table(gh, gw, h == w).unsqueeze::<3>();
        Ok(match &self.register_tokens {
            None => tokens,
            Some(reg) => {
                let r = reg.val().dims()[1];
                let n = 1 + gh * gw;
                Tensor::cat(
                    vec![
                        tokens.clone().slice([0..b, 0..1, 0..d]),
                        reg.val().expand([b, r, d]),
                        tokens.slice([0..b, 1..n, 0..d]),
                    ],
                    1,
                )
            }
        })
    }

    /// The position table for a `gh × gw` grid: `[1 + gh·gw, D]`. As in both
    /// references, the stored table is used unchanged when the patch count equals
    /// the stored one and the image is square (in pixels); otherwise the patch part
    /// is resampled with the checkpoint's [`PosInterpolation`].
    pub fn position_table(&self, gh: usize, gw: usize, square: bool) -> Tensor<2> {
        let table = self.position_embeddings.val();
        let [_, n1, d] = table.dims();
        let table = table.reshape([n1, d]);
        let n = n1 - 1;
        if gh * gw == n && square {
            return table;
        }
        let m = (n as f64).sqrt().round() as usize;
        // Resampled in f32 and cast back, as transformers' interpolate_pos_encoding.
        let dtype = table.dtype();
        let table = table.cast(DType::F32);
        let cls = table.clone().slice([0..1, 0..d]);
        let grid = table.slice([1..n1, 0..d]).reshape([m, m, d]);
        let interp = self.interpolation;
        let sampling = if interp.offset != 0.0 {
            // Upstream: scale_factor = float(n + offset) / M, computed in f64.
            [
                Sampling::ScaleFactor((gh as f64 + interp.offset) / m as f64),
                Sampling::ScaleFactor((gw as f64 + interp.offset) / m as f64),
            ]
        } else {
            [Sampling::Size; 2]
        };
        let grid = resize_grid(
            grid,
            [gh, gw],
            ResizeMode::Bicubic,
            interp.antialias,
            sampling,
        );
        Tensor::cat(vec![cls, grid.reshape([gh * gw, d])], 0).cast(dtype)
    }
}
