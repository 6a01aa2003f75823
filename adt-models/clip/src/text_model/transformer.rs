//! `CLIPTextTransformer`: embeddings → causal encoder → final LayerNorm → EOS pooling.

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::attention::causal_mask;
use super::embeddings::ClipTextEmbeddings;
use super::encoder::{ClipEncoder, ClipEncoderLayer};
use crate::{ClipTextConfig, HiddenAct};

/// Which position `pooler_output` is read from (transformers `CLIPTextTransformer.forward`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// `eos_token_id == 2` (configs written before transformers PR #24773, e.g.
    /// SD1.5's text_encoder): the position of the largest id, first one on ties.
    ArgmaxId,
    /// The first position holding `eos_token_id`; position 0 if there is none.
    FirstEos(i64),
}

impl Pooling {
    pub fn from_config(config: &ClipTextConfig) -> Self {
        match config.eos_token_id {
            Some(2) => Pooling::ArgmaxId,
            Some(id) => Pooling::FirstEos(id),
            // transformers' default eos id; a config without one never occurs in practice.
            None => Pooling::FirstEos(49407),
        }
    }
}

/// `text_model`.
#[derive(Module, Debug)]
pub struct ClipTextTransformer {
    pub embeddings: ClipTextEmbeddings,
    pub encoder: ClipEncoder,
    pub final_layer_norm: LayerNorm,
    #[module(skip)]
    pooling: Pooling,
}

/// Raw outputs of [`ClipTextTransformer::forward`].
pub struct TransformerOutput {
    pub last_hidden_state: Tensor<3>,
    pub pooler_output: Tensor<2>,
    pub hidden_states: Vec<Tensor<3>>,
}

impl ClipTextTransformer {
    pub fn new(config: &ClipTextConfig, act: HiddenAct, device: &Device) -> Self {
        Self {
            embeddings: ClipTextEmbeddings::new(config, device),
            encoder: ClipEncoder {
                layers: (0..config.num_hidden_layers)
                    .map(|_| ClipEncoderLayer::new(config, act, device))
                    .collect(),
            },
            final_layer_norm: LayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            pooling: Pooling::from_config(config),
        }
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    pub fn forward(&self, input_ids: Tensor<2, Int>) -> TransformerOutput {
        let [_, seq] = input_ids.dims();
        let device = input_ids.device();
        let causal = causal_mask(seq, &device);
        let mut x = self.embeddings.forward(input_ids.clone());
        let mut hidden_states = Vec::with_capacity(self.encoder.layers.len() + 1);
        hidden_states.push(x.clone());
        for layer in &self.encoder.layers {
            x = layer.forward(x, causal.clone());
            hidden_states.push(x.clone());
        }
        let last_hidden_state = self.final_layer_norm.forward(x);
        let pooler_output = gather_positions(
            last_hidden_state.clone(),
            pooled_positions(input_ids, self.pooling),
        );
        TransformerOutput {
            last_hidden_state,
            pooler_output,
            hidden_states,
        }
    }
}

/// `[batch]` positions to pool, computed on the device as the argmax of a score
/// that is unique per row, so the result never depends on a backend's tie rule:
/// - `ArgmaxId`: `id * seq + (seq - 1 - pos)` — largest id first, then the earliest;
/// - `FirstEos`: `is_eos * 2 * (seq - pos) + (pos == 0)` — the earliest eos, else 0.
pub fn pooled_positions(input_ids: Tensor<2, Int>, pooling: Pooling) -> Tensor<1, Int> {
    let [batch, seq] = input_ids.dims();
    let device = input_ids.device();
    let pos = Tensor::<1, Int>::arange(0..seq as i64, &device).unsqueeze::<2>();
    let score = match pooling {
        Pooling::ArgmaxId => input_ids * (seq as i64) + (pos.neg() + (seq as i64 - 1)),
        Pooling::FirstEos(eos) => {
            let is_eos = input_ids.equal_elem(eos).int();
            let first = pos.clone().equal_elem(0).int();
            is_eos * ((pos.neg() + seq as i64) * 2) + first
        }
    };
    score.argmax(1).reshape([batch])
}

/// `hidden[b, positions[b], :]` → `[batch, hidden]` (a differentiable gather).
pub fn gather_positions(hidden: Tensor<3>, positions: Tensor<1, Int>) -> Tensor<2> {
    let [batch, _, width] = hidden.dims();
    let index = positions.reshape([batch, 1, 1]).expand([batch, 1, width]);
    hidden.gather(1, index).reshape([batch, width])
}
