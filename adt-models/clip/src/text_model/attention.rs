//! `CLIPAttention` with CLIP's causal mask.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// `self_attn`: multi-head attention, `q_proj`/`k_proj`/`v_proj`/`out_proj`
/// with biases, scaled by `head_dim^-0.5`.
#[derive(Module, Debug)]
pub struct ClipAttention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub out_proj: Linear,
    #[module(skip)]
    num_heads: usize,
}

impl ClipAttention {
    pub fn new(hidden: usize, num_heads: usize, device: &Device) -> Self {
        let lin = || LinearConfig::new(hidden, hidden).init(device);
        Self {
            q_proj: lin(),
            k_proj: lin(),
            v_proj: lin(),
            out_proj: lin(),
            num_heads,
        }
    }

    /// `x` `[batch, seq, hidden]`; `causal` `[seq, seq]` is true where a query
    /// must not see a key (key position > query position).
    pub fn forward(&self, x: Tensor<3>, causal: Tensor<2, Bool>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.num_heads;
        let hd = d / h;
        let heads = |t: Tensor<3>| t.reshape([b, l, h, hd]).swap_dims(1, 2);
        let q = heads(self.q_proj.forward(x.clone()));
        let k = heads(self.k_proj.forward(x.clone()));
        let v = heads(self.v_proj.forward(x));
        let scores = q.matmul(k.swap_dims(2, 3)) * (hd as f64).powf(-0.5);
        // transformers adds finfo.min; filling with it gives the same softmax
        // (exactly zero weight) without risking -inf arithmetic on any backend.
        let mask = causal.unsqueeze::<4>().expand([b, h, l, l]);
        let weights = softmax(scores.mask_fill(mask, f32::MIN), 3);
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        self.out_proj.forward(out)
    }
}

/// `[seq, seq]` mask, true above the diagonal (future keys).
pub fn causal_mask(seq: usize, device: &Device) -> Tensor<2, Bool> {
    let pos = Tensor::<1, Int>::arange(0..seq as i64, device);
    let rows = pos.clone().reshape([seq, 1]);
    let cols = pos.reshape([1, seq]);
    cols.greater(rows)
}
