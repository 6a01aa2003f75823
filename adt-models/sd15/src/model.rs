//! [`Sd15`]: the four components of a Stable Diffusion 1.x/2.x checkpoint, loaded from a
//! diffusers folder, the Hugging Face cache, or an original single file.

use std::path::Path;

use adt_clip::{ClipTextConfig, ClipTextModel, ClipTokenizer, SD1_SINGLE_FILE_REMAP};
use adt_diffusion::config_util::{PerBlock, SampleSize};
use adt_diffusion::{
    AutoencoderKL, AutoencoderKLConfig, UNet2DConditionConfig, UNet2DConditionModel,
};
use adt_models_common::{LoadError, ModelSource, read_config};
use adt_schedulers::{SamplerName, SchedulerConfig};
use burn::prelude::*;

use crate::engine::{ClipConditioner, UnetDenoiser, VaeCodec, engine_prediction};
use crate::error::{Result, Sd15Error};

/// The `scheduler/scheduler_config.json` of a checkpoint, kept as text so any sampler can be
/// built from it (SD1.5 ships a `PNDMScheduler` config; diffusers' `from_config` reads the
/// shared fields — betas, prediction type, spacing — into the class you choose).
#[derive(Debug, Clone)]
pub struct SchedulerFile {
    pub text: String,
    pub origin: String,
}

impl SchedulerFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            text,
            origin: path.display().to_string(),
        })
    }

    /// This file read as sampler `name`.
    pub fn config(&self, name: SamplerName) -> Result<SchedulerConfig> {
        Ok(name.parse_config(&self.text, &self.origin)?)
    }
}

/// A Stable Diffusion 1.x/2.x model: trainable UNet, frozen VAE and CLIP text encoder.
#[derive(Debug)]
pub struct Sd15 {
    pub denoiser: UnetDenoiser,
    pub codec: VaeCodec,
    pub conditioner: ClipConditioner,
    pub scheduler: SchedulerFile,
    /// Where it came from, for messages and run metadata.
    pub source: String,
}

impl Sd15 {
    /// Load a diffusers pipeline folder or hub repo (`unet/`, `vae/`, `text_encoder/`,
    /// `tokenizer/`, `scheduler/`); hub repos resolve through the hf-hub cache and work
    /// offline from a filled cache (`HF_HUB_OFFLINE=1`).
    pub fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Self> {
        let scheduler = SchedulerFile::read(&source.file("scheduler/scheduler_config.json")?)?;
        let prediction = engine_prediction(&scheduler.config(SamplerName::DDIM)?)?;
        let model = Self {
            denoiser: UnetDenoiser::new(
                UNet2DConditionModel::from_pretrained(source, "unet", device)?,
                prediction,
            ),
            codec: VaeCodec::new(AutoencoderKL::from_pretrained(source, "vae", device)?),
            conditioner: ClipConditioner::new(
                ClipTextModel::from_pretrained(source, "text_encoder", device)?,
                ClipTokenizer::from_pretrained(source, "tokenizer")?,
            ),
            scheduler,
            source: source.describe(),
        };
        model.check()?;
        Ok(model)
    }

    /// Load the UNet, VAE and text encoder from an original-layout single file
    /// (`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.*`,
    /// as model sites distribute them). The file carries no configs: they, the tokenizer and
    /// the scheduler config come from `configs`, a diffusers folder or repo of the same
    /// architecture (e.g. `stable-diffusion-v1-5/stable-diffusion-v1-5`).
    pub fn from_single_file(path: &Path, configs: &ModelSource, device: &Device) -> Result<Self> {
        let scheduler = SchedulerFile::read(&configs.file("scheduler/scheduler_config.json")?)?;
        let prediction = engine_prediction(&scheduler.config(SamplerName::DDIM)?)?;
        let unet_cfg: UNet2DConditionConfig = read_config(&configs.file("unet/config.json")?)?;
        let vae_cfg: AutoencoderKLConfig = read_config(&configs.file("vae/config.json")?)?;
        let model = Self {
            denoiser: UnetDenoiser::new(
                UNet2DConditionModel::from_single_file(path, &unet_cfg, device)?,
                prediction,
            ),
            codec: VaeCodec::new(AutoencoderKL::from_single_file(path, &vae_cfg, device)?),
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
        model.check()?;
        Ok(model)
    }

    /// Replace the UNet with a tuned one saved in diffusers' layout (`adt export`, or any
    /// `UNet2DConditionModel.save_pretrained` folder).
    pub fn with_unet(mut self, dir: &Path, device: &Device) -> Result<Self> {
        let unet = UNet2DConditionModel::from_pretrained(
            &ModelSource::Local(dir.to_path_buf()),
            "",
            device,
        )?;
        self.denoiser = UnetDenoiser::new(unet, self.denoiser.prediction);
        self.source = format!("{} (UNet from {})", self.source, dir.display());
        self.check()?;
        Ok(self)
    }

    /// The components fit together: text width = cross-attention width, VAE latents = UNet
    /// channels.
    pub fn check(&self) -> Result<()> {
        let unet = self.denoiser.unet.config();
        let hidden = self.conditioner.hidden_size();
        let widths = match &unet.cross_attention_dim {
            PerBlock::One(w) => vec![*w],
            PerBlock::Many(ws) => ws.clone(),
        };
        if widths.iter().any(|&w| w != hidden) {
            return Err(Sd15Error::Mismatch {
                source_desc: self.source.clone(),
                message: format!(
                    "unet cross_attention_dim = {widths:?} but the text encoder's hidden_size = {hidden}"
                ),
            });
        }
        let latent = self.codec.latent_channels();
        if unet.in_channels != latent || unet.out_channels != latent {
            return Err(Sd15Error::Mismatch {
                source_desc: self.source.clone(),
                message: format!(
                    "unet in/out channels = {}/{} but the VAE has {latent} latent channels",
                    unet.in_channels, unet.out_channels
                ),
            });
        }
        Ok(())
    }

    /// Native image size `(height, width)`: UNet `sample_size` × VAE downscale (512² for
    /// SD1.5); 64 latent cells per side when the config has no `sample_size`.
    pub fn default_size(&self) -> (usize, usize) {
        let f = self.codec.downscale();
        match &self.denoiser.unet.config().sample_size {
            Some(SampleSize::Square(s)) => (s * f, s * f),
            Some(SampleSize::Rect(hw)) if hw.len() == 2 => (hw[0] * f, hw[1] * f),
            _ => (64 * f, 64 * f),
        }
    }
}
