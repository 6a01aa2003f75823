//! `InceptionV3Fid`: pytorch-fid's `InceptionV3(output_blocks=[3],
//! resize_input=True, normalize_input=True, use_fid_inception=True)`.
//!
//! Module tree = the `fid_inception_v3()` state dict's, with upstream's
//! `Conv2d_1a_3x3` / `Mixed_5b` spelled in snake case (`conv2d_1a_3x3`,
//! `mixed_5b`); [`crate::KEY_REMAP`] is the whole difference.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::module::{adaptive_avg_pool2d, interpolate};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::InceptionError;
use crate::blocks::{
    BasicConv2d, ConvSpec, EPool, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE,
    max_3x3_stride2,
};

/// pytorch-fid resizes every input to 299 × 299 (`resize_input=True`).
pub const FID_INPUT_SIZE: usize = 299;
/// Width of the pool3 features (pytorch-fid's output block 3, `--dims 2048`).
pub const FID_FEATURE_DIM: usize = 2048;
/// The file name pytorch-fid downloads its FID weights to (users supply it).
pub const FID_WEIGHTS_FILE: &str = "pt_inception-2015-12-05-6726825d.pth";

/// The FID InceptionV3 up to the final average pool.
#[derive(Module, Debug)]
pub struct InceptionV3Fid {
    pub conv2d_1a_3x3: BasicConv2d,
    pub conv2d_2a_3x3: BasicConv2d,
    pub conv2d_2b_3x3: BasicConv2d,
    pub conv2d_3b_1x1: BasicConv2d,
    pub conv2d_4a_3x3: BasicConv2d,
    pub mixed_5b: InceptionA,
    pub mixed_5c: InceptionA,
    pub mixed_5d: InceptionA,
    pub mixed_6a: InceptionB,
    pub mixed_6b: InceptionC,
    pub mixed_6c: InceptionC,
    pub mixed_6d: InceptionC,
    pub mixed_6e: InceptionC,
    pub mixed_7a: InceptionD,
    pub mixed_7b: InceptionE,
    pub mixed_7c: InceptionE,
}

/// pytorch-fid's four output blocks for one batch.
#[derive(Debug, Clone)]
pub struct FidBlocks {
    /// Block 0, after the first max pool: `[B, 64, 73, 73]`.
    pub pool1: Tensor<4>,
    /// Block 1, after the second max pool: `[B, 192, 35, 35]`.
    pub pool2: Tensor<4>,
    /// Block 2, `Mixed_6e` (what the aux classifier would see): `[B, 768, 17, 17]`.
    pub mixed_6e: Tensor<4>,
    /// Block 3, the final average pool: `[B, 2048, 1, 1]`.
    pub pool3: Tensor<4>,
}

impl InceptionV3Fid {
    /// The architecture with placeholder weights (load real ones with
    /// [`InceptionV3Fid::load`]); channel widths as in torchvision's `Inception3`
    /// and `fid_inception_v3()`.
    pub fn new(device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        Self {
            conv2d_1a_3x3: c(ConvSpec::square(3, 32, 3).stride(2)),
            conv2d_2a_3x3: c(ConvSpec::square(32, 32, 3)),
            conv2d_2b_3x3: c(ConvSpec::square(32, 64, 3).padding([1, 1])),
            conv2d_3b_1x1: c(ConvSpec::square(64, 80, 1)),
            conv2d_4a_3x3: c(ConvSpec::square(80, 192, 3)),
            mixed_5b: InceptionA::new(192, 32, device),
            mixed_5c: InceptionA::new(256, 64, device),
            mixed_5d: InceptionA::new(288, 64, device),
            mixed_6a: InceptionB::new(288, device),
            mixed_6b: InceptionC::new(768, 128, device),
            mixed_6c: InceptionC::new(768, 160, device),
            mixed_6d: InceptionC::new(768, 160, device),
            mixed_6e: InceptionC::new(768, 192, device),
            mixed_7a: InceptionD::new(768, device),
            mixed_7b: InceptionE::new(1280, EPool::AvgExcludePad, device),
            mixed_7c: InceptionE::new(2048, EPool::Max, device),
        }
    }

    /// FID features: `[B, 3, H, W]` images in `[-1, 1]` (the project's image
    /// convention) → `[B, 2048]` pool3 features, exactly pytorch-fid's
    /// `InceptionV3()(x01)[0]` for `x01 = (images + 1) / 2`.
    ///
    /// pytorch-fid takes `[0, 1]`, resizes bilinearly to 299 × 299
    /// (`align_corners=False`), then maps to `[-1, 1]` with `2x − 1`. Images
    /// already in `[-1, 1]` *are* that `2x − 1`; bilinear resizing is affine, so
    /// resizing them directly gives the same input (up to f32 rounding, ~1e-7).
    pub fn features(&self, images: Tensor<4>) -> Result<Tensor<2>, InceptionError> {
        let [b, ..] = images.dims();
        let pooled = self.forward_blocks(images)?.pool3;
        Ok(pooled.reshape([b, FID_FEATURE_DIM]))
    }

    /// All four of pytorch-fid's output blocks (`output_blocks=[0, 1, 2, 3]`),
    /// same input convention as [`Self::features`].
    pub fn forward_blocks(&self, images: Tensor<4>) -> Result<FidBlocks, InceptionError> {
        let x = resize_to_fid(images)?;
        let x = self.conv2d_1a_3x3.forward(x);
        let x = self.conv2d_2a_3x3.forward(x);
        let x = self.conv2d_2b_3x3.forward(x);
        let pool1 = max_3x3_stride2(x);
        let x = self.conv2d_3b_1x1.forward(pool1.clone());
        let x = self.conv2d_4a_3x3.forward(x);
        let pool2 = max_3x3_stride2(x);
        let x = self.mixed_5b.forward(pool2.clone());
        let x = self.mixed_5c.forward(x);
        let x = self.mixed_5d.forward(x);
        let x = self.mixed_6a.forward(x);
        let x = self.mixed_6b.forward(x);
        let x = self.mixed_6c.forward(x);
        let x = self.mixed_6d.forward(x);
        let mixed_6e = self.mixed_6e.forward(x);
        let x = self.mixed_7a.forward(mixed_6e.clone());
        let x = self.mixed_7b.forward(x);
        let x = self.mixed_7c.forward(x);
        let pool3 = adaptive_avg_pool2d(x, [1, 1]);
        Ok(FidBlocks {
            pool1,
            pool2,
            mixed_6e,
            pool3,
        })
    }
}

/// `F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)`;
/// a 299 × 299 input passes through untouched (the half-pixel map is the
/// identity there).
pub fn resize_to_fid(images: Tensor<4>) -> Result<Tensor<4>, InceptionError> {
    let [b, c, h, w] = images.dims();
    if c != 3 || b == 0 || h == 0 || w == 0 {
        return Err(InceptionError::Input(format!(
            "expected [B, 3, H, W] RGB images with B, H, W > 0, got [{b}, {c}, {h}, {w}]"
        )));
    }
    if [h, w] == [FID_INPUT_SIZE; 2] {
        return Ok(images);
    }
    Ok(interpolate(
        images,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([FID_INPUT_SIZE; 2]),
    ))
}
