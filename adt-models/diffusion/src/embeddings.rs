//! Sinusoidal timestep embedding and the `TimestepEmbedding` MLP (diffusers `embeddings.py`).

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::silu;

use crate::layers::linear;

/// diffusers `get_timestep_embedding` with `scale = 1`, `max_period = 10000`:
/// `[N]` timesteps (may be fractional, one per sample) -> `[N, dim]`.
///
/// The frequency table is computed on the host in f32 with the same operation order as
/// torch (`-ln(10000) * i / (half - shift)`, then `exp`), so the embedding matches torch's
/// to f32 rounding even for t = 999.
pub fn timestep_embedding(
    timesteps: Tensor<1>,
    dim: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
) -> Tensor<2> {
    let device = timesteps.device();
    let half = dim / 2;
    let neg_log = -(10000f64.ln() as f32);
    let denom = (half as f64 - freq_shift) as f32;
    let freqs: Vec<f32> = (0..half)
        .map(|i| ((neg_log * i as f32) / denom).exp())
        .collect();
    let freqs = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device);
    let n = timesteps.dims()[0];
    let args = timesteps.reshape([n, 1]) * freqs.reshape([1, half]);
    let (sin, cos) = (args.clone().sin(), args.cos());
    let emb = if flip_sin_to_cos {
        Tensor::cat(vec![cos, sin], 1)
    } else {
        Tensor::cat(vec![sin, cos], 1)
    };
    if dim % 2 == 1 {
        let pad = Tensor::<2>::zeros([n, 1], &device);
        Tensor::cat(vec![emb, pad], 1)
    } else {
        emb
    }
}

/// `TimestepEmbedding`: `linear_2(silu(linear_1(x)))`.
#[derive(Module, Debug)]
pub struct TimestepEmbedding {
    pub linear_1: Linear,
    pub linear_2: Linear,
}

impl TimestepEmbedding {
    pub fn new(in_channels: usize, time_embed_dim: usize, device: &Device) -> Self {
        Self {
            linear_1: linear(in_channels, time_embed_dim, true, device),
            linear_2: linear(time_embed_dim, time_embed_dim, true, device),
        }
    }

    /// `x` (the f32 sinusoid) is cast to the weights' dtype first, as diffusers casts
    /// `t_emb` to the sample's dtype: a bf16 model takes the embedding computed in f32.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = x.cast(self.linear_1.weight.val().dtype());
        self.linear_2.forward(silu(self.linear_1.forward(x)))
    }
}
