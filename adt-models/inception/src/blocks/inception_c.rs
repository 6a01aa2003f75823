//! `InceptionC` as pytorch-fid's `FIDInceptionC` runs it (`Mixed_6b..6e`, 17×17).

use burn::module::Module;
use burn::prelude::*;

use super::basic_conv::{BasicConv2d, ConvSpec};
use super::pool::avg_3x3_same;

/// Four branches of 192 channels each: 1×1; 1×1→1×7→7×1; 1×1→7×1→1×7→7×1→1×7
/// (width `channels_7x7` inside); avg-pool (padding excluded) → 1×1.
#[derive(Module, Debug)]
pub struct InceptionC {
    pub branch1x1: BasicConv2d,
    pub branch7x7_1: BasicConv2d,
    pub branch7x7_2: BasicConv2d,
    pub branch7x7_3: BasicConv2d,
    pub branch7x7dbl_1: BasicConv2d,
    pub branch7x7dbl_2: BasicConv2d,
    pub branch7x7dbl_3: BasicConv2d,
    pub branch7x7dbl_4: BasicConv2d,
    pub branch7x7dbl_5: BasicConv2d,
    pub branch_pool: BasicConv2d,
}

/// `kernel_size=(1, 7), padding=(0, 3)`.
const fn k1x7(i: usize, o: usize) -> ConvSpec {
    ConvSpec::new(i, o, [1, 7]).padding([0, 3])
}

/// `kernel_size=(7, 1), padding=(3, 0)`.
const fn k7x1(i: usize, o: usize) -> ConvSpec {
    ConvSpec::new(i, o, [7, 1]).padding([3, 0])
}

impl InceptionC {
    pub fn new(in_channels: usize, channels_7x7: usize, device: &Device) -> Self {
        let c = |spec| BasicConv2d::new(spec, device);
        let c7 = channels_7x7;
        Self {
            branch1x1: c(ConvSpec::square(in_channels, 192, 1)),
            branch7x7_1: c(ConvSpec::square(in_channels, c7, 1)),
            branch7x7_2: c(k1x7(c7, c7)),
            branch7x7_3: c(k7x1(c7, 192)),
            branch7x7dbl_1: c(ConvSpec::square(in_channels, c7, 1)),
            branch7x7dbl_2: c(k7x1(c7, c7)),
            branch7x7dbl_3: c(k1x7(c7, c7)),
            branch7x7dbl_4: c(k7x1(c7, c7)),
            branch7x7dbl_5: c(k1x7(c7, 192)),
            branch_pool: c(ConvSpec::square(in_channels, 192, 1)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |h, conv| conv.forward(h));
        let bd = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |h, conv| conv.forward(h));
        let bp = self.branch_pool.forward(avg_3x3_same(x));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}
