//! A small pixel/latent-space conv denoiser with per-sample timestep and prompt conditioning.

use burn::prelude::*;
use burn::tensor::activation::silu;

use super::layers::{ToyConv, ToyLinear};
use crate::rng::EngineRng;
use crate::traits::{Conditioning, Denoiser, Prediction};

/// `conv_in → (+time, +cond) → SiLU → conv_mid → SiLU → conv_out`, with a residual 3×3 path.
#[derive(Module, Debug)]
pub struct ToyDenoiser {
    /// Input conv.
    pub conv_in: ToyConv,
    /// Timestep embedding projection (from a 16-wide sinusoidal embedding).
    pub time_proj: ToyLinear,
    /// Prompt embedding projection (from the mean of the hidden states).
    pub cond_proj: ToyLinear,
    /// Middle conv.
    pub conv_mid: ToyConv,
    /// Output conv.
    pub conv_out: ToyConv,
    /// Prediction type.
    #[module(skip)]
    pub prediction: Prediction,
}

/// Width of the sinusoidal timestep embedding.
pub const TIME_DIM: usize = 16;

impl ToyDenoiser {
    /// A denoiser on `channels`-channel inputs, `width` hidden channels, `cond_dim` prompt width.
    pub fn new(
        channels: usize,
        width: usize,
        cond_dim: usize,
        prediction: Prediction,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        Self {
            conv_in: ToyConv::new(channels, width, 3, 1, rng, device),
            time_proj: ToyLinear::new(TIME_DIM, width, rng, device),
            cond_proj: ToyLinear::new(cond_dim, width, rng, device),
            conv_mid: ToyConv::new(width, width, 3, 1, rng, device),
            conv_out: ToyConv::new(width, channels, 3, 1, rng, device),
            prediction,
        }
    }

    /// Sinusoidal embedding of timesteps in 0..1000, `[B, TIME_DIM]`.
    pub fn time_embedding(t: Tensor<1>) -> Tensor<2> {
        let device = t.device();
        let half = TIME_DIM / 2;
        let freqs: Vec<f32> = (0..half)
            .map(|i| (-(10000f32).ln() * i as f32 / half as f32).exp())
            .collect();
        let f = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device).unsqueeze::<2>();
        let arg = t.unsqueeze_dim::<2>(1) * f;
        Tensor::cat(vec![arg.clone().sin(), arg.cos()], 1)
    }
}

impl Denoiser for ToyDenoiser {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4> {
        let [b, _, _, _] = x_t.dims();
        // The sinusoid in f32, then the weights' dtype (a bf16 compute copy).
        let temb = Self::time_embedding(timesteps).cast(self.time_proj.weight.val().dtype());
        let temb = self.time_proj.forward2(temb);
        let cemb = self
            .cond_proj
            .forward2(cond.hidden.clone().mean_dim(1).squeeze_dim::<2>(1));
        let width = self.conv_in.weight.dims()[0];
        let bias = (temb + cemb).reshape([b, width, 1, 1]);
        let h = silu(self.conv_in.forward(x_t) + bias);
        let h = h.clone() + silu(self.conv_mid.forward(h));
        self.conv_out.forward(h)
    }
}
