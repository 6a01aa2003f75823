//! Seeded conv and linear layers for the toy models.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::rng::EngineRng;

/// A 2-D conv with "same" zero padding (odd kernels) or stride = kernel (patchify).
#[derive(Module, Debug)]
pub struct ToyConv {
    /// Weight `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Bias `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Stride.
    #[module(skip)]
    pub stride: usize,
}

impl ToyConv {
    /// Conv `c_in → c_out` with kernel `k`, stride `stride` (padding k/2 when stride 1).
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        let std = (1.0 / (c_in * k * k) as f64).sqrt();
        Self {
            weight: Param::from_tensor(
                rng.normal_tensor([c_out, c_in, k, k], device)
                    .mul_scalar(std),
            ),
            bias: Param::from_tensor(rng.normal_tensor([c_out], device).mul_scalar(0.01)),
            stride,
        }
    }

    /// Apply.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let pad = if self.stride == 1 { k / 2 } else { 0 };
        conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new([self.stride, self.stride], [pad, pad], [1, 1], 1),
        )
    }
}

/// `y = x·W + b` on the last dimension.
#[derive(Module, Debug)]
pub struct ToyLinear {
    /// Weight `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl ToyLinear {
    /// Linear `d_in → d_out`.
    pub fn new(d_in: usize, d_out: usize, rng: &mut EngineRng, device: &Device) -> Self {
        let std = (1.0 / d_in as f64).sqrt();
        Self {
            weight: Param::from_tensor(rng.normal_tensor([d_in, d_out], device).mul_scalar(std)),
            bias: Param::from_tensor(rng.normal_tensor([d_out], device).mul_scalar(0.01)),
        }
    }

    /// Apply to `[B, in]`.
    pub fn forward2(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }

    /// Apply to `[B, N, in]`.
    pub fn forward3(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let y = self.forward2(x.reshape([b * n, d]));
        let o = y.dims()[1];
        y.reshape([b, n, o])
    }
}
