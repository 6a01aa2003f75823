//! SDXL's conditioner: two CLIP text encoders and the size micro-conditioning, as diffusers'
//! `StableDiffusionXLPipeline.encode_prompt` and `_get_add_time_ids`.

use adt_clip::{ClipTextModel, ClipTokenizer};
use adt_plugin::traits::{Conditioner, Conditioning, MicroCond, TextEmbedding};
use burn::prelude::*;

/// diffusers' default `negative_aesthetic_score` (`StableDiffusionXLImg2ImgPipeline`).
pub const NEGATIVE_AESTHETIC_SCORE: f32 = 2.5;

/// The pipeline options of `model_index.json` that change the conditioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdxlOptions {
    /// `force_zeros_for_empty_prompt`: without a negative prompt, CFG's unconditional
    /// branch is all zeros (hidden states and pooled) instead of the empty prompt's
    /// encoding (diffusers' default for SDXL pipelines: true).
    pub force_zeros_for_empty_prompt: bool,
    /// `requires_aesthetics_score` (the refiner): `time_ids` are original size, crop and
    /// the aesthetic score (5 numbers) instead of original size, crop and target size (6).
    pub requires_aesthetics_score: bool,
}

impl Default for SdxlOptions {
    /// The base model's: zeros for an empty negative, size micro-conditioning.
    fn default() -> Self {
        Self {
            force_zeros_for_empty_prompt: true,
            requires_aesthetics_score: false,
        }
    }
}

/// SDXL conditioning:
/// - `hidden` `[B, 77, C1 + C2]`: the penultimate hidden state (`hidden_states[-2]`) of
///   CLIP ViT-L (`text_encoder`) and of OpenCLIP ViT-bigG (`text_encoder_2`), concatenated
///   (the refiner has the second encoder only);
/// - `pooled` `[B, P]`: `text_encoder_2`'s projected pooled output (`text_embeds`);
/// - `ids` `[B, 6]`: `original_size + crops_coords_top_left + target_size` per sample
///   (refiner: `original_size + crops_coords_top_left + (aesthetic_score,)`, `[B, 5]`).
#[derive(Module, Debug)]
pub struct SdxlConditioner {
    /// CLIP ViT-L (`text_encoder`); absent in the refiner.
    pub text_encoder: Option<ClipTextModel>,
    /// OpenCLIP ViT-bigG with `text_projection` (`text_encoder_2`).
    pub text_encoder_2: ClipTextModel,
    #[module(skip)]
    pub tokenizer: Option<ClipTokenizer>,
    #[module(skip)]
    pub tokenizer_2: ClipTokenizer,
    #[module(skip)]
    pub options: SdxlOptions,
}

impl SdxlConditioner {
    /// The encoders with their tokenizers (`first` is `text_encoder` + `tokenizer`, absent
    /// in the refiner).
    pub fn new(
        first: Option<(ClipTextModel, ClipTokenizer)>,
        text_encoder_2: ClipTextModel,
        tokenizer_2: ClipTokenizer,
        options: SdxlOptions,
    ) -> Self {
        let (text_encoder, tokenizer) = match first {
            Some((m, t)) => (Some(m), Some(t)),
            None => (None, None),
        };
        Self {
            text_encoder,
            text_encoder_2,
            tokenizer,
            tokenizer_2,
            options,
        }
    }

    /// Width of `hidden`: the sum of the encoders' hidden sizes (the UNet's
    /// `cross_attention_dim`).
    pub fn hidden_size(&self) -> usize {
        self.text_encoder.as_ref().map_or(0, |m| m.hidden_size())
            + self.text_encoder_2.hidden_size()
    }

    /// Width of `pooled`: `text_encoder_2`'s `projection_dim`.
    pub fn pooled_size(&self) -> Option<usize> {
        self.text_encoder_2
            .text_projection
            .as_ref()
            .map(|p| p.weight.dims()[1])
    }

    /// Numbers per sample in `ids`: 6, or 5 with the aesthetic score.
    pub fn time_ids_len(&self) -> usize {
        if self.options.requires_aesthetics_score {
            5
        } else {
            6
        }
    }

    /// The micro-conditioning numbers of one sample, in diffusers' order.
    pub fn time_ids(&self, m: &MicroCond) -> Vec<f32> {
        time_ids(m, self.options.requires_aesthetics_score)
    }
}

/// SDXL's micro-conditioning numbers of one sample in diffusers' order: original size, crop,
/// then the target size or, for a refiner (`aesthetic_score`), the aesthetic score.
pub fn time_ids(m: &MicroCond, aesthetic_score: bool) -> Vec<f32> {
    let (oh, ow) = m.original_size;
    let (ct, cl) = m.crop_top_left;
    let mut ids = vec![oh as f32, ow as f32, ct as f32, cl as f32];
    if aesthetic_score {
        ids.push(m.aesthetic_score);
    } else {
        let (th, tw) = m.target_size;
        ids.extend([th as f32, tw as f32]);
    }
    ids
}

impl Conditioner for SdxlConditioner {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        let mut hidden = Vec::with_capacity(2);
        if let (Some(model), Some(tokenizer)) = (&self.text_encoder, &self.tokenizer) {
            hidden.push(
                model
                    .encode_prompts(tokenizer, prompts, device)
                    .penultimate(),
            );
        }
        let out = self
            .text_encoder_2
            .encode_prompts(&self.tokenizer_2, prompts, device);
        hidden.push(out.penultimate());
        TextEmbedding {
            hidden: Tensor::cat(hidden, 2),
            // diffusers takes the pooled output of the last encoder whose first output is
            // 2-D: `text_encoder_2`'s `text_embeds` (checked at load: it has a projection).
            pooled: out.text_embeds,
        }
    }

    fn unconditional_text(&self, batch: usize, device: &Device) -> TextEmbedding {
        if !self.options.force_zeros_for_empty_prompt {
            return self.encode_text(&vec![String::new(); batch], device);
        }
        // `torch.zeros_like` of the prompt embeddings, without running the encoders.
        let seq = self.tokenizer_2.max_length();
        TextEmbedding {
            hidden: Tensor::zeros([batch, seq, self.hidden_size()], device),
            pooled: self
                .pooled_size()
                .map(|p| Tensor::zeros([batch, p], device)),
        }
    }

    /// diffusers' defaults: the base pipelines repeat the positive ids; the refiner's
    /// (`requires_aesthetics_score`) `negative_crops_coords_top_left` defaults to `(0, 0)` and
    /// `negative_aesthetic_score` to 2.5 (`StableDiffusionXLImg2ImgPipeline._get_add_time_ids`).
    fn negative_micro(&self, positive: &MicroCond) -> MicroCond {
        if self.options.requires_aesthetics_score {
            MicroCond {
                crop_top_left: (0, 0),
                aesthetic_score: NEGATIVE_AESTHETIC_SCORE,
                ..*positive
            }
        } else {
            *positive
        }
    }

    fn condition(&self, text: TextEmbedding, micro: &[MicroCond]) -> Conditioning {
        let device = text.hidden.device();
        let n = self.time_ids_len();
        let ids: Vec<f32> = micro.iter().flat_map(|m| self.time_ids(m)).collect();
        let ids = Tensor::<2>::from_data(TensorData::new(ids, [micro.len(), n]), &device);
        Conditioning {
            hidden: text.hidden,
            pooled: text.pooled,
            ids: Some(ids),
        }
    }
}
