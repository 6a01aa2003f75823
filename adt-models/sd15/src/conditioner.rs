//! The frozen prompt encoder of SD1.x/2.x: CLIP tokenizer + [`ClipTextModel`] as the engine's
//! [`Conditioner`].

use adt_clip::{ClipTextModel, ClipTokenizer};
use adt_plugin::traits::{Conditioner, TextEmbedding};
use burn::prelude::*;

/// SD1.x conditioning: the text encoder's `last_hidden_state` `[B, 77, C]` for prompts padded
/// and truncated to 77 tokens (`StableDiffusionPipeline.encode_prompt`, `clip_skip=None`), and
/// its `pooler_output` `[B, C]` as `pooled`. No micro-conditioning.
#[derive(Module, Debug)]
pub struct ClipConditioner {
    pub text_encoder: ClipTextModel,
    #[module(skip)]
    pub tokenizer: ClipTokenizer,
}

impl ClipConditioner {
    pub fn new(text_encoder: ClipTextModel, tokenizer: ClipTokenizer) -> Self {
        Self {
            text_encoder,
            tokenizer,
        }
    }

    /// Hidden width of the embeddings (the UNet's `cross_attention_dim`).
    pub fn hidden_size(&self) -> usize {
        self.text_encoder.hidden_size()
    }

    /// Token ids `[B, 77]` of `prompts`, exactly as the slow CLIP tokenizer gives them.
    pub fn token_ids(
        &self,
        prompts: &[String],
        device: &Device,
    ) -> Result<Tensor<2, Int>, adt_clip::ClipError> {
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        self.tokenizer.encode_batch_tensor(&refs, device)
    }
}

impl Conditioner for ClipConditioner {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        // The tokenizer only fails on internal inconsistencies of files it already
        // validated at load time, never on prompt text.
        let ids = self
            .token_ids(prompts, device)
            .unwrap_or_else(|e| panic!("CLIP tokenizer failed on a prompt: {e}"));
        let out = self.text_encoder.forward(ids);
        // SD1.x UNets take only the hidden states (no `addition_embed_type`, so
        // `UnetDenoiser` ignores `pooled`); the pooled EOS state is what text-conditioned
        // discriminator heads read (`AdtConfig::text_cond`).
        TextEmbedding {
            hidden: out.last_hidden_state,
            pooled: Some(out.pooler_output),
        }
    }
}
