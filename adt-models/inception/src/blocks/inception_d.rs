//! `InceptionD` (torchvision's, unpatched by pytorch-fid): the 17×17 → 8×8
//! reduction `Mixed_7a`.

use burn::module::Module;
use burn::prelude::*;

use super::basic_conv::{BasicConv2d, ConvSpec};
use super::pool::max_3x3_stride2;

/// Three branches concatenated: 1×1→3×3/2 (320), 1×1→1×7→7×1→3×3/2 (192) and
/// 3×3/2 max pool. Output channels `512 + in_channels`.
#[derive(Module, Debug)]
pub struct InceptionD {
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2: BasicConv2d,
    pub branch7x7x3_1: BasicConv2d,
    pub branch7x7x3_2: BasicConv2d,
    pub branch7x7x3_3: BasicConv2d,
    pub branch7x7x3_4: BasicConv2d,
}

impl InceptionD {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        Self {
            branch3x3_1: c(ConvSpec::square(in_channels, 192, 1)),
            branch3x3_2: c(ConvSpec::square(192, 320, 3).stride(2)),
            branch7x7x3_1: c(ConvSpec::square(in_channels, 192, 1)),
            branch7x7x3_2: c(ConvSpec::new(192, 192, [1, 7]).padding([0, 3])),
            branch7x7x3_3: c(ConvSpec::new(192, 192, [7, 1]).padding([3, 0])),
            branch7x7x3_4: c(ConvSpec::square(192, 192, 3).stride(2)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |h, conv| conv.forward(h));
        Tensor::cat(vec![b3, b7, max_3x3_stride2(x)], 1)
    }
}
