//! `CLIPEncoderLayer` (pre-norm transformer block) and `CLIPEncoder`.

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::attention::ClipAttention;
use super::mlp::ClipMlp;
use crate::{ClipTextConfig, HiddenAct};

/// `encoder.layers.N`: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Module, Debug)]
pub struct ClipEncoderLayer {
    pub self_attn: ClipAttention,
    pub layer_norm1: LayerNorm,
    pub mlp: ClipMlp,
    pub layer_norm2: LayerNorm,
}

impl ClipEncoderLayer {
    pub fn new(config: &ClipTextConfig, act: HiddenAct, device: &Device) -> Self {
        let ln = || {
            LayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        Self {
            self_attn: ClipAttention::new(config.hidden_size, config.num_attention_heads, device),
            layer_norm1: ln(),
            mlp: ClipMlp::new(config.hidden_size, config.intermediate_size, act, device),
            layer_norm2: ln(),
        }
    }

    pub fn forward(&self, x: Tensor<3>, causal: Tensor<2, Bool>) -> Tensor<3> {
        let x = x.clone() + self.self_attn.forward(self.layer_norm1.forward(x), causal);
        x.clone() + self.mlp.forward(self.layer_norm2.forward(x))
    }
}

/// `encoder`: the stack of layers.
#[derive(Module, Debug)]
pub struct ClipEncoder {
    pub layers: Vec<ClipEncoderLayer>,
}
