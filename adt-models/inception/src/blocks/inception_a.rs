//! `InceptionA` as pytorch-fid's `FIDInceptionA` runs it (`Mixed_5b/5c/5d`, 35×35).

use burn::module::Module;
use burn::prelude::*;

use super::basic_conv::{BasicConv2d, ConvSpec};
use super::pool::avg_3x3_same;

/// Four branches concatenated: 1×1 (64), 1×1→5×5 (64), 1×1→3×3→3×3 (96) and
/// avg-pool (padding excluded) → 1×1 (`pool_features`). Output channels
/// `224 + pool_features`.
#[derive(Module, Debug)]
pub struct InceptionA {
    pub branch1x1: BasicConv2d,
    pub branch5x5_1: BasicConv2d,
    pub branch5x5_2: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    pub fn new(in_channels: usize, pool_features: usize, device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        Self {
            branch1x1: c(ConvSpec::square(in_channels, 64, 1)),
            branch5x5_1: c(ConvSpec::square(in_channels, 48, 1)),
            branch5x5_2: c(ConvSpec::square(48, 64, 5).padding([2, 2])),
            branch3x3dbl_1: c(ConvSpec::square(in_channels, 64, 1)),
            branch3x3dbl_2: c(ConvSpec::square(64, 96, 3).padding([1, 1])),
            branch3x3dbl_3: c(ConvSpec::square(96, 96, 3).padding([1, 1])),
            branch_pool: c(ConvSpec::square(in_channels, pool_features, 1)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_1.forward(x.clone());
        let b3 = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(b3));
        let bp = self.branch_pool.forward(avg_3x3_same(x));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}
