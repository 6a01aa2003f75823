//! Scaled dot-product attention for every model of the zoo: one place that decides how
//! the backend is asked for it.
//!
//! burn 0.22's autodiff backend has no attention backward, so `burn::tensor::module::
//! attention` on an autodiff device always runs its decomposed fallback, even for tensors
//! outside any graph, and that fallback scales the L×S scores, takes a tracked max (with
//! indices, scattered back in the backward pass) and clamps twice. Here:
//! - tensors outside any graph (inference, the sampler's no-grad steps) go to the
//!   backend's fused kernel on the inner, autodiff-free tensors (flex: flash attention);
//! - tensors in a graph without a mask go through `softmax((q·scale) kᵀ + bias) v`: the
//!   scale applied to q (L×d values instead of L×S) and softmax's max shift detached, as
//!   the backend's own softmax does; the gradient is the same function's;
//! - anything else (mask, softcap, causal) keeps burn's fallback, NaN-safe for rows with
//!   every key masked.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

/// `softmax(q kᵀ · scale + bias) v` over `[batch, heads, tokens, head_dim]` tensors, as
/// `burn::tensor::module::attention` (same arguments, same result to f32 rounding).
pub fn scaled_dot_product(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Option<Tensor<4, Bool>>,
    bias: Option<Tensor<4>>,
    options: AttentionModuleOptions,
) -> Tensor<4> {
    let tracked = q.is_tracked()
        || k.is_tracked()
        || v.is_tracked()
        || bias.as_ref().is_some_and(Tensor::is_tracked);
    if !tracked {
        if !q.is_autodiff() {
            return attention(q, k, v, mask, bias, options);
        }
        let strategy = q.gradient_checkpointing_strategy();
        let out = attention(
            q.inner(),
            k.inner(),
            v.inner(),
            mask.map(Tensor::inner),
            bias.map(Tensor::inner),
            options,
        );
        // Back on autodiff with q's checkpointing strategy: operands must share one.
        let out = Tensor::from_inner(out);
        return match strategy {
            Some(strategy) => out.with_gradient_checkpointing_strategy(strategy),
            None => out,
        };
    }
    if mask.is_some() || options.softcap.is_some() || options.is_causal {
        return attention(q, k, v, mask, bias, options);
    }
    let head_dim = q.dims()[3];
    let scale = options.scale.unwrap_or(1.0 / (head_dim as f64).sqrt());
    let scores = (q * scale).matmul(k.swap_dims(2, 3));
    let scores = match bias {
        Some(bias) => scores + bias,
        None => scores,
    };
    softmax(scores, 3).matmul(v)
}
