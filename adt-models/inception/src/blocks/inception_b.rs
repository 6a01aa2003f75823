//! `InceptionB` (torchvision's, unpatched by pytorch-fid): the 35×35 → 17×17
//! reduction `Mixed_6a`.

use burn::module::Module;
use burn::prelude::*;

use super::basic_conv::{BasicConv2d, ConvSpec};
use super::pool::max_3x3_stride2;

/// Three branches concatenated: 3×3/2 (384), 1×1→3×3→3×3/2 (96) and 3×3/2 max
/// pool (input channels). Output channels `480 + in_channels`.
#[derive(Module, Debug)]
pub struct InceptionB {
    pub branch3x3: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
}

impl InceptionB {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        Self {
            branch3x3: c(ConvSpec::square(in_channels, 384, 3).stride(2)),
            branch3x3dbl_1: c(ConvSpec::square(in_channels, 64, 1)),
            branch3x3dbl_2: c(ConvSpec::square(64, 96, 3).padding([1, 1])),
            branch3x3dbl_3: c(ConvSpec::square(96, 96, 3).stride(2)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_1.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(bd));
        Tensor::cat(vec![b3, bd, max_3x3_stride2(x)], 1)
    }
}
