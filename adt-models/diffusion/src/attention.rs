//! Multi-head attention (diffusers `Attention` with `AttnProcessor2_0`), shared by the
//! UNet's transformer blocks and the VAE's mid-block self-attention.

use adt_models_common::attention::scaled_dot_product;
use burn::nn::{GroupNorm, Linear};
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;

use crate::layers::linear;

/// `Attention`: `to_q`, `to_k`, `to_v` projections, scaled dot-product attention over
/// `heads` heads of size `dim_head` (scale `dim_head^-0.5`), `to_out.0` projection
/// (`to_out.1` is dropout and holds no weights).
///
/// The VAE variant (`_from_deprecated_attn_block`) adds `group_norm` before the
/// projections, biases on q/k/v, and a residual connection; see [`Attention::forward_spatial`].
#[derive(Module, Debug)]
pub struct Attention {
    pub group_norm: Option<GroupNorm>,
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    pub to_out: Vec<Linear>,
    pub heads: usize,
}

impl Attention {
    /// `query_dim` -> `heads * dim_head`; keys/values from `context_dim` (= `query_dim` for
    /// self-attention). `qkv_bias` is diffusers' `bias` (false in the UNet, true in the VAE).
    pub fn new(
        query_dim: usize,
        context_dim: usize,
        heads: usize,
        dim_head: usize,
        qkv_bias: bool,
        device: &Device,
    ) -> Self {
        let inner = heads * dim_head;
        Self {
            group_norm: None,
            to_q: linear(query_dim, inner, qkv_bias, device),
            to_k: linear(context_dim, inner, qkv_bias, device),
            to_v: linear(context_dim, inner, qkv_bias, device),
            to_out: vec![linear(inner, query_dim, true, device)],
            heads,
        }
    }

    /// `x` `[B, L, C]`, `context` `[B, S, Cc]` (`None`: self-attention) -> `[B, L, C]`.
    pub fn forward(&self, x: Tensor<3>, context: Option<Tensor<3>>) -> Tensor<3> {
        let context = context.unwrap_or_else(|| x.clone());
        let q = split_heads(self.to_q.forward(x), self.heads);
        let k = split_heads(self.to_k.forward(context.clone()), self.heads);
        let v = split_heads(self.to_v.forward(context), self.heads);
        // Fused outside a graph, a lean decomposition inside one (adt_models_common::attention).
        let out = scaled_dot_product(q, k, v, None, None, AttentionModuleOptions::default());
        self.to_out[0].forward(merge_heads(out))
    }

    /// VAE form on a feature map: `x + to_out(attn(group_norm(x)))`, tokens = pixels.
    pub fn forward_spatial(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let normed = match &self.group_norm {
            Some(norm) => norm.forward(x.clone()),
            None => x.clone(),
        };
        let tokens = normed.reshape([b, c, h * w]).swap_dims(1, 2);
        let out = self.forward(tokens, None);
        x + out.swap_dims(1, 2).reshape([b, c, h, w])
    }
}

/// `[B, L, H*D]` -> `[B, H, L, D]`.
pub(crate) fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<4> {
    let [b, l, inner] = x.dims();
    x.reshape([b, l, heads, inner / heads]).swap_dims(1, 2)
}

/// `[B, H, L, D]` -> `[B, L, H*D]`.
pub(crate) fn merge_heads(x: Tensor<4>) -> Tensor<3> {
    let [b, h, l, d] = x.dims();
    x.swap_dims(1, 2).reshape([b, l, h * d])
}
