//! SD3's conditioner: CLIP ViT-L, OpenCLIP ViT-bigG and (optionally) T5 v1.1 XXL, as
//! diffusers' `StableDiffusion3Pipeline.encode_prompt`.

use adt_clip::{ClipTextModel, ClipTokenizer};
use adt_plugin::traits::{Conditioner, TextEmbedding};
use adt_t5::{T5EncoderModel, T5Tokenizer};
use burn::prelude::*;

/// The pipeline call's `max_sequence_length` default (T5 tokens per prompt).
pub const DEFAULT_MAX_SEQUENCE_LENGTH: usize = 256;

/// SD3 conditioning:
/// - `hidden` `[B, 77 + max_sequence_length, joint_attention_dim]`: the penultimate hidden
///   states (`hidden_states[-2]`) of `text_encoder` and `text_encoder_2` concatenated per
///   token and zero-padded to the T5 width, then T5's `last_hidden_state` joined along the
///   sequence (all zeros without `text_encoder_3`, as diffusers);
/// - `pooled` `[B, P1 + P2]`: both CLIP encoders' projected pooled outputs (`text_embeds`).
///
/// The unconditional branch is the empty prompt's encoding (SD3 has no
/// `force_zeros_for_empty_prompt`).
#[derive(Module, Debug)]
pub struct Sd3Conditioner {
    /// CLIP ViT-L with `text_projection` (`text_encoder`).
    pub text_encoder: ClipTextModel,
    /// OpenCLIP ViT-bigG with `text_projection` (`text_encoder_2`).
    pub text_encoder_2: ClipTextModel,
    /// T5 v1.1 XXL (`text_encoder_3`); optional in diffusers (zeros take its place).
    pub text_encoder_3: Option<T5EncoderModel>,
    #[module(skip)]
    pub tokenizer: ClipTokenizer,
    #[module(skip)]
    pub tokenizer_2: ClipTokenizer,
    #[module(skip)]
    pub tokenizer_3: Option<T5Tokenizer>,
    /// The T5 width: the transformer's `joint_attention_dim` (what zeros replace T5 with).
    #[module(skip)]
    pub joint_attention_dim: usize,
    /// T5 tokens per prompt (padded and truncated to it): the pipeline's
    /// `max_sequence_length`, [`DEFAULT_MAX_SEQUENCE_LENGTH`] unless set.
    #[module(skip)]
    pub max_sequence_length: usize,
}

/// One CLIP encoder's outputs on `prompts`: `hidden_states[-2]` and `text_embeds`.
fn clip(
    model: &ClipTextModel,
    tokenizer: &ClipTokenizer,
    prompts: &[String],
    device: &Device,
) -> (Tensor<3>, Tensor<2>) {
    let out = model.encode_prompts(tokenizer, prompts, device);
    let hidden = out.penultimate();
    let pooled = out
        .text_embeds
        .expect("SD3's CLIP encoders have text_projection (checked at load)");
    (hidden, pooled)
}

impl Sd3Conditioner {
    /// Width of `pooled`: the sum of both projections, `None` if one has none.
    pub fn pooled_size(&self) -> Option<usize> {
        let p = |m: &ClipTextModel| m.text_projection.as_ref().map(|p| p.weight.dims()[1]);
        Some(p(&self.text_encoder)? + p(&self.text_encoder_2)?)
    }

    /// T5's `last_hidden_state` `[B, max_sequence_length, joint_attention_dim]` (no attention
    /// mask, as the pipeline calls it), or zeros without `text_encoder_3`.
    fn t5(&self, prompts: &[String], device: &Device) -> Tensor<3> {
        let b = prompts.len();
        let (Some(model), Some(tokenizer)) = (&self.text_encoder_3, &self.tokenizer_3) else {
            return Tensor::zeros(
                [b, self.max_sequence_length, self.joint_attention_dim],
                device,
            );
        };
        let (ids, _mask, _cut) = tokenizer
            .encode_batch_tensor(prompts, self.max_sequence_length, device)
            .unwrap_or_else(|e| panic!("T5 tokenizer failed on a prompt: {e}"));
        model.forward(ids, None).last_hidden_state
    }
}

impl Conditioner for Sd3Conditioner {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        let (h1, p1) = clip(&self.text_encoder, &self.tokenizer, prompts, device);
        let (h2, p2) = clip(&self.text_encoder_2, &self.tokenizer_2, prompts, device);
        let clip_hidden = Tensor::cat(vec![h1, h2], 2);
        let [b, l, c] = clip_hidden.dims();
        // `F.pad(clip_prompt_embeds, (0, t5_width - clip_width))` (checked at load: ≥ 0).
        let clip_hidden = if c < self.joint_attention_dim {
            let pad = Tensor::zeros([b, l, self.joint_attention_dim - c], device);
            Tensor::cat(vec![clip_hidden, pad], 2)
        } else {
            clip_hidden
        };
        TextEmbedding {
            hidden: Tensor::cat(vec![clip_hidden, self.t5(prompts, device)], 1),
            pooled: Some(Tensor::cat(vec![p1, p2], 1)),
        }
    }

    fn encoding_settings(&self) -> String {
        format!(
            "; max_sequence_length {}, T5 {}",
            self.max_sequence_length,
            if self.text_encoder_3.is_some() {
                "on"
            } else {
                "zeros"
            }
        )
    }

    fn prompt_warnings(&self, prompts: &[String]) -> Vec<String> {
        let mut warnings = Vec::new();
        let limit = self.tokenizer.max_length();
        for (i, p) in prompts.iter().enumerate() {
            // +2: the start and end tokens; the longer of the two tokenizations.
            let n = [&self.tokenizer, &self.tokenizer_2]
                .iter()
                .filter_map(|t| t.tokenize(p).ok())
                .map(|ids| ids.len() + 2)
                .max()
                .unwrap_or(0);
            if n > limit {
                warnings.push(format!(
                    "prompt {i}: {n} CLIP tokens; the CLIP encoders keep the first {limit} \
                     (the tokenizers' model_max_length), the rest is cut: {p:?}"
                ));
            }
        }
        if let Some(tok) = &self.tokenizer_3
            && let Ok(t) = tok.encode_batch(prompts, self.max_sequence_length)
        {
            for i in t.truncated {
                warnings.push(format!(
                    "prompt {i}: longer than max_sequence_length = {} T5 tokens; \
                     tokenizer_3 truncates it: {:?}",
                    self.max_sequence_length, prompts[i]
                ));
            }
        }
        warnings
    }
}
