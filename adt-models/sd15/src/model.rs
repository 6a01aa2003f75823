//! [`Sd15`]: the SD1.x/2.x family — a trainable UNet, a frozen VAE and one CLIP text encoder —
//! loaded from a diffusers folder, the Hugging Face cache, or an original single file.

use std::path::Path;

use adt_clip::{ClipTextConfig, ClipTextModel, ClipTokenizer, SD1_SINGLE_FILE_REMAP};
use adt_diffusion::single_file;
use adt_family::adapters::{LatentCodec, UnetDenoiser, VaeCodec};
use adt_family::{Family, FamilyError, Model, ModelIndex, Result, SchedulerFile};
use adt_models_common::ModelSource;
use burn::prelude::*;

use crate::conditioner::ClipConditioner;

/// Stable Diffusion 1.x/2.x: `StableDiffusionPipeline` checkpoints.
#[derive(Clone, Copy, Debug)]
pub struct Sd15;

/// A loaded SD1.x/2.x checkpoint.
pub type Sd15Model = Model<Sd15>;

/// The key prefix of the text encoder in an original single file (SD1.x: OpenAI CLIP under
/// `cond_stage_model.transformer.`); its presence tells an SD1.x file from an SDXL one.
const SINGLE_FILE_TEXT_PREFIX: &str = "cond_stage_model.";

impl Family for Sd15 {
    const NAME: &'static str = "sd15";
    const PIPELINE_CLASSES: &'static [&'static str] =
        &["StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"];
    const SINGLE_FILE_MARK: &'static str = "cond_stage_model.";
    const CONFIG_REPO: &'static str = "stable-diffusion-v1-5/stable-diffusion-v1-5";
    type Denoiser = UnetDenoiser;
    type Codec = VaeCodec;
    type Conditioner = ClipConditioner;

    /// Load a diffusers pipeline folder or hub repo (`unet/`, `vae/`, `text_encoder/`,
    /// `tokenizer/`, `scheduler/`); hub repos resolve through the hf-hub cache and work
    /// offline from a filled cache (`HF_HUB_OFFLINE=1`).
    fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Model<Self>> {
        ModelIndex::read_for::<Self>(source)?;
        let scheduler = SchedulerFile::of_pipeline(source)?;
        let model = Model {
            denoiser: UnetDenoiser::from_pipeline(source, &scheduler, device)?,
            codec: VaeCodec::from_component(source, "vae", device)?,
            conditioner: ClipConditioner::new(
                ClipTextModel::from_pretrained(source, "text_encoder", device)?,
                ClipTokenizer::from_pretrained(source, "tokenizer")?,
            ),
            scheduler,
            source: source.describe(),
        };
        Self::check(&model)?;
        Ok(model)
    }

    /// Load the UNet, VAE and text encoder from an original-layout single file
    /// (`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.*`,
    /// as model sites distribute them). The file carries no configs: they, the tokenizer and
    /// the scheduler config come from `configs`, a diffusers folder or repo of the same
    /// architecture (e.g. `stable-diffusion-v1-5/stable-diffusion-v1-5`).
    fn from_single_file(
        path: &Path,
        configs: &ModelSource,
        device: &Device,
    ) -> Result<Model<Self>> {
        let keys = single_file::keys(path)?;
        if !keys.iter().any(|k| k.starts_with(SINGLE_FILE_TEXT_PREFIX)) {
            let has = |p: &str| keys.iter().any(|k| k.starts_with(p));
            let hint = if has("conditioner.embedders.") {
                " (its `conditioner.embedders.*` make it an SDXL file: use family \"sdxl\")"
            } else if has("model.diffusion_model.joint_blocks.") {
                " (its MMDiT `model.diffusion_model.joint_blocks.*` make it an SD3 file: use \
                 family \"sd3\")"
            } else {
                ""
            };
            return Err(FamilyError::WrongFamily {
                path: path.to_path_buf(),
                message: format!(
                    "not an SD1.x/2.x single file: no `{SINGLE_FILE_TEXT_PREFIX}*` text encoder{hint}"
                ),
            });
        }
        ModelIndex::read_for::<Self>(configs)?;
        let scheduler = SchedulerFile::of_pipeline(configs)?;
        let model = Model {
            denoiser: UnetDenoiser::from_single_file(path, configs, &scheduler, device)?,
            codec: VaeCodec::from_single_file(path, configs, device)?,
            conditioner: ClipConditioner::new(
                ClipTextModel::from_single_file(
                    path,
                    &ClipTextConfig::from_file(&configs.file("text_encoder/config.json")?)?,
                    SD1_SINGLE_FILE_REMAP,
                    device,
                )?,
                ClipTokenizer::from_pretrained(configs, "tokenizer")?,
            ),
            scheduler,
            source: path.display().to_string(),
        };
        Self::check(&model)?;
        Ok(model)
    }

    /// Text width = cross-attention width; VAE latents = UNet channels; no SDXL-style added
    /// conditions (this family's conditioner has no `time_ids`).
    fn check(model: &Model<Self>) -> Result<()> {
        let unet = model.denoiser.unet.config();
        let mismatch = |message: String| FamilyError::Mismatch {
            source_desc: model.source.clone(),
            message,
        };
        let hidden = model.conditioner.hidden_size();
        let widths = model.denoiser.cross_attention_widths();
        if widths.iter().any(|&w| w != hidden) {
            return Err(mismatch(format!(
                "unet cross_attention_dim = {widths:?} but the text encoder's hidden_size = {hidden}"
            )));
        }
        let (tokens, positions) = (
            model.conditioner.tokenizer.max_length(),
            model.conditioner.text_encoder.max_positions(),
        );
        if tokens > positions {
            return Err(mismatch(format!(
                "the tokenizer's model_max_length {tokens} exceeds the text encoder's \
                 max_position_embeddings {positions}"
            )));
        }
        model.check_latent_channels()?;
        if model.denoiser.takes_added_cond() {
            return Err(mismatch(format!(
                "the UNet has addition_embed_type {:?} (SDXL's added conditions); load it as \
                 family \"sdxl\"",
                unet.addition_embed_type
            )));
        }
        Ok(())
    }
}
