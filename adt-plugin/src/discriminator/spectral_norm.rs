//! Spectral-normalised 1-D convolution with circular padding (StyleGAN-T's `SpectralConv1d`).
//!
//! The weight is divided by its largest singular value σ, estimated by one power iteration per
//! forward from the stored left vector `u` (a non-trainable parameter, so it is checkpointed).
//! The iteration itself is not differentiated (as in `torch.nn.utils.spectral_norm`); σ = uᵀWv is.
//! `forward` takes `&self`, so the refreshed `u` is written back by [`SnConv1d::refreshed`], which
//! the training loop calls after each discriminator update — the same state torch would hold.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;

use crate::rng::EngineRng;

/// A 1-D conv `[B, Cin, L] → [B, Cout, L]` with spectral norm and circular "same" padding.
#[derive(Module, Debug)]
pub struct SnConv1d {
    /// Raw weight `[Cout, Cin, K]`.
    pub weight: Param<Tensor<3>>,
    /// Bias `[Cout]`.
    pub bias: Param<Tensor<1>>,
    /// Power-iteration vector `[Cout]` (not trained).
    pub u: Param<Tensor<1>>,
}

fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let n = x.clone().powi_scalar(2).sum().sqrt().add_scalar(1e-12);
    x / n.unsqueeze::<2>()
}

impl SnConv1d {
    /// Init from the engine RNG (weights ~ N(0, 1/fan_in), bias 0, u ~ N(0,1) normalised).
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        let std = (1.0 / (c_in * kernel) as f64).sqrt();
        let weight = rng
            .normal_tensor([c_out, c_in, kernel], device)
            .mul_scalar(std);
        let u = rng.normal_tensor([c_out], device);
        let u = u.clone() / u.powi_scalar(2).sum().sqrt();
        Self {
            weight: Param::from_tensor(weight),
            bias: Param::from_tensor(Tensor::zeros([c_out], device)),
            u: Param::from_tensor(u).set_require_grad(false),
        }
    }

    /// One power iteration from the stored `u`: returns (u', v) as constants.
    fn power_iteration(&self) -> (Tensor<2>, Tensor<2>) {
        let w = self.weight_matrix().detach();
        let u = self.u.val().detach().unsqueeze_dim::<2>(1); // [Cout, 1]
        let v = l2_normalize(w.clone().transpose().matmul(u)); // [CinK, 1]
        let u2 = l2_normalize(w.matmul(v.clone())); // [Cout, 1]
        (u2, v)
    }

    fn weight_matrix(&self) -> Tensor<2> {
        let [o, i, k] = self.weight.val().dims();
        self.weight.val().reshape([o, i * k])
    }

    /// σ(W) estimate (differentiable w.r.t. the weight).
    pub fn sigma(&self) -> Tensor<1> {
        let (u, v) = self.power_iteration();
        u.transpose()
            .matmul(self.weight_matrix().matmul(v))
            .reshape([1])
    }

    /// The normalised weight W/σ.
    pub fn normalized_weight(&self) -> Tensor<3> {
        self.weight.val() / self.sigma().unsqueeze::<3>()
    }

    /// Apply the conv with circular padding of `K/2` on both sides.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let k = self.weight.dims()[2];
        let p = k / 2;
        let x = if p > 0 {
            let l = x.dims()[2];
            assert!(
                l >= p,
                "SnConv1d: sequence of {l} tokens shorter than the circular padding {p}"
            );
            let left = x.clone().narrow(2, l - p, p);
            let right = x.clone().narrow(2, 0, p);
            Tensor::cat(vec![left, x, right], 2)
        } else {
            x
        };
        conv1d(
            x,
            self.normalized_weight(),
            Some(self.bias.val()),
            ConvOptions::new([1], [0], [1], 1),
        )
    }

    /// The module with `u` advanced by one power iteration on the current weight.
    pub fn refreshed(mut self) -> Self {
        let (u, _) = self.power_iteration();
        let [o, _] = u.dims();
        let u = u.reshape([o]);
        self.u = self.u.map(|old| {
            let u = u.to_device(&old.device());
            u.set_require_grad(false)
        });
        self
    }
}
