//! `InceptionE` as pytorch-fid's `FIDInceptionE_1` (`Mixed_7b`) and
//! `FIDInceptionE_2` (`Mixed_7c`) run it (8×8); the two differ only in the pool
//! branch ([`EPool`]).

use burn::module::Module;
use burn::prelude::*;

use super::basic_conv::{BasicConv2d, ConvSpec};
use super::pool::EPool;

/// Output channels 2048: 1×1 (320); 1×1 (384) → [1×3 ‖ 3×1] (768);
/// 1×1 (448) → 3×3 (384) → [1×3 ‖ 3×1] (768); pool → 1×1 (192).
#[derive(Module, Debug)]
pub struct InceptionE {
    pub branch1x1: BasicConv2d,
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2a: BasicConv2d,
    pub branch3x3_2b: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3a: BasicConv2d,
    pub branch3x3dbl_3b: BasicConv2d,
    pub branch_pool: BasicConv2d,
    /// What `branch_pool` is fed: the block variant, not a weight.
    #[module(skip)]
    pub pool: EPool,
}

impl InceptionE {
    pub fn new(in_channels: usize, pool: EPool, device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        let k1x3 = |i, o| ConvSpec::new(i, o, [1, 3]).padding([0, 1]);
        let k3x1 = |i, o| ConvSpec::new(i, o, [3, 1]).padding([1, 0]);
        Self {
            branch1x1: c(ConvSpec::square(in_channels, 320, 1)),
            branch3x3_1: c(ConvSpec::square(in_channels, 384, 1)),
            branch3x3_2a: c(k1x3(384, 384)),
            branch3x3_2b: c(k3x1(384, 384)),
            branch3x3dbl_1: c(ConvSpec::square(in_channels, 448, 1)),
            branch3x3dbl_2: c(ConvSpec::square(448, 384, 3).padding([1, 1])),
            branch3x3dbl_3a: c(k1x3(384, 384)),
            branch3x3dbl_3b: c(k3x1(384, 384)),
            branch_pool: c(ConvSpec::square(in_channels, 192, 1)),
            pool,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let bd = self.branch3x3dbl_1.forward(x.clone());
        let bd = self.branch3x3dbl_2.forward(bd);
        let bd = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(bd.clone()),
                self.branch3x3dbl_3b.forward(bd),
            ],
            1,
        );
        let bp = self.branch_pool.forward(self.pool.apply(x));
        Tensor::cat(vec![b1, b3, bd, bp], 1)
    }
}
