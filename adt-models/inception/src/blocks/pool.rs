//! The pooling operations of the FID Inception, and the typed choice of the
//! `InceptionE` pool branch.
//!
//! pytorch-fid patches torchvision's blocks where the 2015 TensorFlow graph
//! differs: the 3×3/stride-1 average pools of `FIDInceptionA`, `FIDInceptionC`
//! and `FIDInceptionE_1` divide by the number of *real* pixels under the window
//! (`count_include_pad=False`, TensorFlow's `SAME` average pool), and the last
//! block, `FIDInceptionE_2`, max-pools instead.

use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

/// What the pool branch of an `InceptionE` block applies before its 1×1 conv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EPool {
    /// `FIDInceptionE_1` (`Mixed_7b`): 3×3 average, stride 1, pad 1,
    /// `count_include_pad=False`.
    AvgExcludePad,
    /// `FIDInceptionE_2` (`Mixed_7c`): 3×3 max, stride 1, pad 1.
    Max,
}

/// `F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)`.
pub fn avg_3x3_same(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(
        x,
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1])
            .with_count_include_pad(false),
    )
}

/// `F.max_pool2d(x, 3, stride=1, padding=1)`.
pub fn max_3x3_same(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(
        x,
        MaxPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]),
    )
}

/// `F.max_pool2d(x, 3, stride=2)` / `nn.MaxPool2d(3, stride=2)` (no padding, floor).
pub fn max_3x3_stride2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

impl EPool {
    pub fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::AvgExcludePad => avg_3x3_same(x),
            Self::Max => max_3x3_same(x),
        }
    }
}
