//! `Transformer2DModel` (continuous input) and `BasicTransformerBlock` with the GEGLU
//! feed-forward, as used by SD1.x/2.x/SDXL cross-attention blocks.

use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::gelu;

use crate::attention::Attention;
use crate::layers::{conv2d, from_tokens, group_norm, layer_norm, linear, to_tokens};

/// `GEGLU`: `proj` to `2 * dim_out`, then `hidden * gelu(gate)` (exact erf GELU).
#[derive(Module, Debug)]
pub struct GeGlu {
    pub proj: Linear,
}

impl GeGlu {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.proj.forward(x);
        let [hidden, gate]: [Tensor<3>; 2] = h.chunk(2, 2).try_into().expect("GEGLU splits in two");
        hidden * gelu(gate)
    }
}

/// `FeedForward` with `activation_fn="geglu"`: `net.0` = GEGLU, `net.1` = dropout (no
/// weights), `net.2` = output projection. The tuple keeps diffusers' key names.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub net: (GeGlu, Dropout, Linear),
}

impl FeedForward {
    pub fn new(dim: usize, device: &Device) -> Self {
        let inner = dim * 4;
        Self {
            net: (
                GeGlu {
                    proj: linear(dim, inner * 2, true, device),
                },
                DropoutConfig::new(0.0).init(),
                linear(inner, dim, true, device),
            ),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.net.2.forward(self.net.0.forward(x))
    }
}

/// `BasicTransformerBlock` (`norm_type="layer_norm"`): self-attention, cross-attention,
/// feed-forward, each pre-normed (LayerNorm eps 1e-5) with a residual.
#[derive(Module, Debug)]
pub struct BasicTransformerBlock {
    pub norm1: LayerNorm,
    pub attn1: Attention,
    pub norm2: LayerNorm,
    pub attn2: Attention,
    pub norm3: LayerNorm,
    pub ff: FeedForward,
}

impl BasicTransformerBlock {
    pub fn new(
        dim: usize,
        heads: usize,
        dim_head: usize,
        cross_dim: usize,
        device: &Device,
    ) -> Self {
        Self {
            norm1: layer_norm(dim, 1e-5, device),
            attn1: Attention::new(dim, dim, heads, dim_head, false, device),
            norm2: layer_norm(dim, 1e-5, device),
            attn2: Attention::new(dim, cross_dim, heads, dim_head, false, device),
            norm3: layer_norm(dim, 1e-5, device),
            ff: FeedForward::new(dim, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, context: &Tensor<3>) -> Tensor<3> {
        let x = self.attn1.forward(self.norm1.forward(x.clone()), None) + x;
        let x = self
            .attn2
            .forward(self.norm2.forward(x.clone()), Some(context.clone()))
            + x;
        self.ff.forward(self.norm3.forward(x.clone())) + x
    }
}

/// `proj_in`/`proj_out`: a 1x1 conv (SD1.x) or a linear layer (`use_linear_projection`,
/// SD2.x/SDXL). The variant name appears in burn's module path (`proj_in.Conv.weight`);
/// [`crate::keys::projection_remap`] maps diffusers' `proj_in.weight` onto it.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

/// `Transformer2DModel` for continuous inputs: GroupNorm (eps 1e-6), `proj_in`,
/// `transformer_blocks`, `proj_out`, residual.
#[derive(Module, Debug)]
pub struct Transformer2DModel {
    pub norm: GroupNorm,
    pub proj_in: Projection,
    pub transformer_blocks: Vec<BasicTransformerBlock>,
    pub proj_out: Projection,
}

/// Hyper-parameters of one `Transformer2DModel`.
#[derive(Debug, Clone, Copy)]
pub struct TransformerSpec {
    pub channels: usize,
    pub heads: usize,
    pub layers: usize,
    pub cross_attention_dim: usize,
    pub groups: usize,
    pub use_linear_projection: bool,
}

impl Transformer2DModel {
    pub fn new(s: TransformerSpec, device: &Device) -> Self {
        let c = s.channels;
        let proj = || {
            if s.use_linear_projection {
                Projection::Linear(linear(c, c, true, device))
            } else {
                Projection::Conv(conv2d(c, c, 1, 1, 0, device))
            }
        };
        Self {
            norm: group_norm(s.groups, c, 1e-6, device),
            proj_in: proj(),
            transformer_blocks: (0..s.layers)
                .map(|_| {
                    BasicTransformerBlock::new(
                        c,
                        s.heads,
                        c / s.heads,
                        s.cross_attention_dim,
                        device,
                    )
                })
                .collect(),
            proj_out: proj(),
        }
    }

    /// `x` `[B, C, H, W]`, `context` `[B, S, cross_attention_dim]` -> `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>, context: &Tensor<3>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let normed = self.norm.forward(x.clone());
        let tokens = match &self.proj_in {
            Projection::Conv(conv) => to_tokens(conv.forward(normed)),
            Projection::Linear(lin) => lin.forward(to_tokens(normed)),
        };
        let mut tokens = tokens;
        for block in &self.transformer_blocks {
            tokens = block.forward(tokens, context);
        }
        let out = match &self.proj_out {
            Projection::Conv(conv) => conv.forward(from_tokens(tokens, h, w)),
            Projection::Linear(lin) => from_tokens(lin.forward(tokens), h, w),
        };
        out + x
    }
}
