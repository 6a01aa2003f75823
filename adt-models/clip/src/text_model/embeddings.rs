//! `CLIPTextEmbeddings`: token + learned absolute position embeddings.

use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;

use crate::ClipTextConfig;

/// `text_model.embeddings`. The checkpoint's `position_ids` buffer (a constant
/// `arange`) is not a parameter here: positions are always `0..seq_len`, as in
/// transformers when no `position_ids` are passed.
#[derive(Module, Debug)]
pub struct ClipTextEmbeddings {
    pub token_embedding: Embedding,
    pub position_embedding: Embedding,
}

impl ClipTextEmbeddings {
    pub fn new(config: &ClipTextConfig, device: &Device) -> Self {
        Self {
            token_embedding: EmbeddingConfig::new(config.vocab_size, config.hidden_size)
                .init(device),
            position_embedding: EmbeddingConfig::new(
                config.max_position_embeddings,
                config.hidden_size,
            )
            .init(device),
        }
    }

    /// `input_ids` `[batch, seq]` → `[batch, seq, hidden]`. The caller checks
    /// `seq <= max_position_embeddings`.
    pub fn forward(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, seq] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<1, Int>::arange(0..seq as i64, &device).unsqueeze::<2>();
        self.token_embedding.forward(input_ids) + self.position_embedding.forward(positions)
    }
}
