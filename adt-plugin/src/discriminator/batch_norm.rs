//! Local batch norm (StyleGAN-T's `BatchNormLocal`): batch statistics over groups of
//! `group` samples ("virtual batches"), no running statistics, affine.

use burn::module::Param;
use burn::prelude::*;

/// Batch norm over `[B, C, L]` with statistics per group of `group` consecutive samples.
#[derive(Module, Debug)]
pub struct LocalBatchNorm {
    /// Scale `[C]`.
    pub weight: Param<Tensor<1>>,
    /// Shift `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Samples per statistics group.
    #[module(skip)]
    pub group: usize,
    /// Variance epsilon.
    #[module(skip)]
    pub eps: f64,
}

impl LocalBatchNorm {
    /// Identity-initialised norm over `channels` with groups of `group` samples.
    pub fn new(channels: usize, group: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            group,
            eps: 1e-5,
        }
    }

    /// Normalise. The batch must be a multiple of `group` (checked at config validation).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, c, l] = x.dims();
        assert!(
            b % self.group == 0,
            "LocalBatchNorm: batch {b} is not a multiple of the group size {}",
            self.group
        );
        let g = b / self.group;
        let x = x.reshape([g, self.group, c, l]);
        let mean = x.clone().mean_dims(&[1, 3]);
        let centered = x - mean;
        let var = centered.clone().powi_scalar(2).mean_dims(&[1, 3]);
        let y = centered / var.add_scalar(self.eps).sqrt();
        let w = self.weight.val().reshape([1, 1, c, 1]);
        let bias = self.bias.val().reshape([1, 1, c, 1]);
        (y * w + bias).reshape([b, c, l])
    }
}
