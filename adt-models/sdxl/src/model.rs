//! [`Sdxl`]: the SDXL family — a UNet with `text_time` added conditions, a VAE with its own
//! `scaling_factor`, CLIP ViT-L + OpenCLIP ViT-bigG — loaded from a diffusers folder (or its
//! `*.fp16.safetensors` variant), the Hugging Face cache, or the original SGM single file.

use std::path::Path;

use adt_clip::{ClipTextConfig, ClipTextModel, ClipTokenizer};
use adt_diffusion::single_file as ldm;
use adt_family::adapters::{LatentCodec, UnetDenoiser, VaeCodec};
use adt_family::{Family, FamilyError, Model, ModelIndex, Result, SchedulerFile};
use adt_models_common::ModelSource;
use burn::prelude::*;

use crate::conditioner::{SdxlConditioner, SdxlOptions};
use crate::single_file;

/// Stable Diffusion XL (base and refiner): `StableDiffusionXLPipeline` checkpoints.
#[derive(Clone, Copy, Debug)]
pub struct Sdxl;

/// A loaded SDXL checkpoint.
pub type SdxlModel = Model<Sdxl>;

impl Sdxl {
    /// The pipeline options (`force_zeros_for_empty_prompt`, `requires_aesthetics_score`) of
    /// a pipeline's `model_index.json`, with diffusers' defaults for absent keys.
    pub fn options(index: &ModelIndex) -> SdxlOptions {
        let default = SdxlOptions::default();
        SdxlOptions {
            force_zeros_for_empty_prompt: index
                .flag("force_zeros_for_empty_prompt")
                .unwrap_or(default.force_zeros_for_empty_prompt),
            requires_aesthetics_score: index
                .flag("requires_aesthetics_score")
                .unwrap_or(default.requires_aesthetics_score),
        }
    }

    /// The pipeline index, checked to be an SDXL one with a second text encoder.
    fn index(source: &ModelSource) -> Result<ModelIndex> {
        let index = ModelIndex::read_for::<Self>(source)?;
        let wrong = |message: String| FamilyError::WrongFamily {
            path: index.path.clone(),
            message,
        };
        for part in ["text_encoder_2", "tokenizer_2"] {
            if !index.has_component(part) {
                return Err(wrong(format!(
                    "an SDXL pipeline needs `{part}` (OpenCLIP ViT-bigG and its tokenizer); \
                     this index has none"
                )));
            }
        }
        if index.has_component("text_encoder") != index.has_component("tokenizer") {
            return Err(wrong(
                "`text_encoder` and `tokenizer` must both be present (base) or both absent \
                 (refiner)"
                    .into(),
            ));
        }
        Ok(index)
    }
}

impl Family for Sdxl {
    const NAME: &'static str = "sdxl";
    const PIPELINE_CLASSES: &'static [&'static str] = &[
        "StableDiffusionXLPipeline",
        "StableDiffusionXLImg2ImgPipeline",
    ];
    const SINGLE_FILE_MARK: &'static str = "conditioner.embedders.";
    const CONFIG_REPO: &'static str = "stabilityai/stable-diffusion-xl-base-1.0";
    type Denoiser = UnetDenoiser;
    type Codec = VaeCodec;
    type Conditioner = SdxlConditioner;

    /// Load a diffusers SDXL folder or hub repo (`unet/`, `vae/`, `text_encoder{,_2}/`,
    /// `tokenizer{,_2}/`, `scheduler/`; the refiner has no `text_encoder`/`tokenizer`);
    /// each component's full-precision weights, else its `fp16` variant (upcast to f32).
    fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Model<Self>> {
        let index = Self::index(source)?;
        let scheduler = SchedulerFile::of_pipeline(source)?;
        let first = if index.has_component("text_encoder") {
            Some((
                ClipTextModel::from_pretrained(source, "text_encoder", device)?,
                ClipTokenizer::from_pretrained(source, "tokenizer")?,
            ))
        } else {
            None
        };
        let model = Model {
            denoiser: UnetDenoiser::from_pipeline(source, &scheduler, device)?,
            codec: VaeCodec::from_component(source, "vae", device)?,
            conditioner: SdxlConditioner::new(
                first,
                ClipTextModel::from_pretrained(source, "text_encoder_2", device)?,
                ClipTokenizer::from_pretrained(source, "tokenizer_2")?,
                Self::options(&index),
            ),
            scheduler,
            source: source.describe(),
        };
        Self::check(&model)?;
        Ok(model)
    }

    /// Load the UNet, VAE and both text encoders from the original SGM single file
    /// (`model.diffusion_model.*`, `first_stage_model.*`, `conditioner.embedders.{0,1}.*`;
    /// the refiner's file has OpenCLIP alone as embedder 0; see [`crate::single_file`]). The file carries no configs: they, the tokenizers, the
    /// pipeline options and the scheduler config come from `configs`, a diffusers SDXL
    /// folder or repo of the same architecture (e.g.
    /// `stabilityai/stable-diffusion-xl-base-1.0`).
    fn from_single_file(
        path: &Path,
        configs: &ModelSource,
        device: &Device,
    ) -> Result<Model<Self>> {
        let keys = ldm::keys(path)?;
        let has = |prefix: &str| keys.iter().any(|k| k.starts_with(prefix));
        let Some(openclip) = single_file::openclip_prefix(&keys) else {
            let hint = if has("cond_stage_model.") {
                " (its `cond_stage_model.*` text encoder makes it an SD1.x/2.x file: use family \"sd15\")"
            } else if has("model.diffusion_model.joint_blocks.") {
                " (its MMDiT `model.diffusion_model.joint_blocks.*` make it an SD3 file: use \
                 family \"sd3\")"
            } else {
                ""
            };
            return Err(FamilyError::WrongFamily {
                path: path.to_path_buf(),
                message: format!(
                    "not an SDXL single file: no OpenCLIP ViT-bigG under `{}*` (base) or `{}*` \
                     (refiner){hint}",
                    single_file::TEXT_ENCODER_2_PREFIX,
                    single_file::REFINER_TEXT_ENCODER_2_PREFIX
                ),
            });
        };
        let index = Self::index(configs)?;
        let scheduler = SchedulerFile::of_pipeline(configs)?;
        let first = if has(single_file::TEXT_ENCODER_PREFIX) {
            let cfg = ClipTextConfig::from_file(&configs.file("text_encoder/config.json")?)?;
            Some((
                single_file::load_text_encoder(path, &cfg, device)?,
                ClipTokenizer::from_pretrained(configs, "tokenizer")?,
            ))
        } else {
            None
        };
        let cfg_2 = ClipTextConfig::from_file(&configs.file("text_encoder_2/config.json")?)?;
        let model = Model {
            denoiser: UnetDenoiser::from_single_file(path, configs, &scheduler, device)?,
            codec: VaeCodec::from_single_file(path, configs, device)?,
            conditioner: SdxlConditioner::new(
                first,
                single_file::load_text_encoder_2(path, openclip, &cfg_2, device)?,
                ClipTokenizer::from_pretrained(configs, "tokenizer_2")?,
                Self::options(&index),
            ),
            scheduler,
            source: path.display().to_string(),
        };
        Self::check(&model)?;
        Ok(model)
    }

    /// The UNet cross-attends to both encoders' widths, takes SDXL's added conditions sized
    /// for `text_encoder_2`'s projection and the conditioner's `time_ids`, and its channels
    /// are the VAE's.
    fn check(model: &Model<Self>) -> Result<()> {
        let unet = model.denoiser.unet.config();
        let c = &model.conditioner;
        let mismatch = |message: String| FamilyError::Mismatch {
            source_desc: model.source.clone(),
            message,
        };
        let widths = model.denoiser.cross_attention_widths();
        let hidden = c.hidden_size();
        if widths.iter().any(|&w| w != hidden) {
            let parts = match &c.text_encoder {
                Some(t) => format!(
                    "{} (text_encoder) + {} (text_encoder_2)",
                    t.hidden_size(),
                    c.text_encoder_2.hidden_size()
                ),
                None => format!("{} (text_encoder_2)", c.text_encoder_2.hidden_size()),
            };
            return Err(mismatch(format!(
                "unet cross_attention_dim = {widths:?}, but the text encoders' widths sum to \
                 {hidden} = {parts}"
            )));
        }
        // Both encoders' hidden states are concatenated per token: equal sequence lengths,
        // each within its encoder's positions.
        let encoders = c
            .text_encoder
            .iter()
            .zip(&c.tokenizer)
            .map(|(m, t)| ("text_encoder", m, t))
            .chain([("text_encoder_2", &c.text_encoder_2, &c.tokenizer_2)]);
        let len = c.tokenizer_2.max_length();
        for (name, m, t) in encoders {
            if t.max_length() != len || t.max_length() > m.max_positions() {
                return Err(mismatch(format!(
                    "{name}: tokenizer model_max_length {} (tokenizer_2: {len}) must equal the \
                     other tokenizer's and fit the encoder's max_position_embeddings {}",
                    t.max_length(),
                    m.max_positions()
                )));
            }
        }
        let Some(pooled) = c.pooled_size() else {
            return Err(mismatch(
                "text_encoder_2 has no text_projection: SDXL needs a CLIPTextModelWithProjection \
                 (its pooled `text_embeds`)"
                    .into(),
            ));
        };
        if unet.addition_embed_type.as_deref() != Some("text_time") {
            return Err(mismatch(format!(
                "the UNet's addition_embed_type is {:?}; SDXL's is \"text_time\" (an SD1.x UNet? \
                 load it as family \"sd15\")",
                unet.addition_embed_type
            )));
        }
        let time_dim = unet.addition_time_embed_dim.unwrap_or(0);
        let n = c.time_ids_len();
        let want = time_dim * n + pooled;
        if unet.projection_class_embeddings_input_dim != Some(want) {
            return Err(mismatch(format!(
                "unet projection_class_embeddings_input_dim = {:?}, but {n} time ids × \
                 addition_time_embed_dim {time_dim} + text_encoder_2 projection_dim {pooled} = \
                 {want}{}",
                unet.projection_class_embeddings_input_dim,
                if c.options.requires_aesthetics_score {
                    " (requires_aesthetics_score: original size, crop, aesthetic score)"
                } else {
                    " (original size, crop, target size)"
                }
            )));
        }
        model.check_latent_channels()
    }
}
