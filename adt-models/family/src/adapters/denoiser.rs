//! The trainable side: [`UNet2DConditionModel`] as the engine's [`Denoiser`], and
//! [`ComponentDenoiser`], how a family's denoiser is saved and reloaded as a diffusers
//! component folder.

use std::path::Path;

use adt_diffusion::config_util::{PerBlock, SampleSize};
use adt_diffusion::{AddedCond, UNet2DConditionConfig, UNet2DConditionModel};
use adt_models_common::{ModelSource, read_config};
use adt_plugin::traits::{Conditioning, Denoiser, Prediction};
use adt_schedulers::SamplerName;
use burn::prelude::*;

use crate::error::Result;
use crate::family::SchedulerFile;

use super::engine_prediction;

/// A denoiser stored as a diffusers component folder: what `adt export` writes and
/// `adt sample --unet` reads back.
pub trait ComponentDenoiser: Denoiser + Sized {
    /// The pipeline subfolder it lives in (`unet`).
    const SUBFOLDER: &'static str;
    /// Load a tuned copy from a component folder (`config.json` + weights), keeping this
    /// denoiser's prediction type (it comes from the scheduler config, not the folder).
    fn load_like(&self, dir: &Path, device: &Device) -> Result<Self>;
    /// Write `dir/config.json` and the weights in diffusers' layout (f32).
    fn save_pretrained(&self, dir: &Path) -> Result<()>;
    /// The key [`Self::save_pretrained`] gives the parameter at module path `path` (e.g.
    /// `unet.mid_block.attentions.0.proj_in.Linear.weight` → `mid_block.attentions.0.proj_in.weight`);
    /// LoRA files name layers by it. `None` for a path outside the component.
    fn diffusers_key(path: &str) -> Option<String>;
    /// Latent channels it takes.
    fn in_channels(&self) -> usize;
    /// Latent channels it predicts.
    fn out_channels(&self) -> usize;
    /// Its native latent size `(height, width)`, when the config states one.
    fn sample_size(&self) -> Option<(usize, usize)>;
    /// Whether it takes a latent of `height × width` (the MMDiT: whole patches within its
    /// position table); the error says why not. Any size by default.
    fn check_latent_size(&self, _height: usize, _width: usize) -> Result<()> {
        Ok(())
    }
}

/// The SD UNet with the prediction type of its scheduler (`epsilon` for SD1.5 and SDXL).
#[derive(Module, Debug)]
pub struct UnetDenoiser {
    /// The network θ the engine tunes.
    pub unet: UNet2DConditionModel,
    /// What it predicts, from `scheduler_config.json`'s `prediction_type`.
    #[module(skip)]
    pub prediction: Prediction,
}

impl UnetDenoiser {
    pub fn new(unet: UNet2DConditionModel, prediction: Prediction) -> Self {
        Self { unet, prediction }
    }

    /// A pipeline's `unet/`, predicting what its scheduler config says (`prediction_type`).
    pub fn from_pipeline(
        source: &ModelSource,
        scheduler: &SchedulerFile,
        device: &Device,
    ) -> Result<Self> {
        let prediction = engine_prediction(&scheduler.config(SamplerName::DDIM)?)?;
        let unet = UNet2DConditionModel::from_pretrained(source, "unet", device)?;
        Ok(Self::new(unet, prediction))
    }

    /// The UNet of an original single file (`model.diffusion_model.*`); the config comes from
    /// `configs`' `unet/config.json`, the prediction type from `scheduler`.
    pub fn from_single_file(
        path: &Path,
        configs: &ModelSource,
        scheduler: &SchedulerFile,
        device: &Device,
    ) -> Result<Self> {
        let prediction = engine_prediction(&scheduler.config(SamplerName::DDIM)?)?;
        let config: UNet2DConditionConfig = read_config(&configs.file("unet/config.json")?)?;
        let unet = UNet2DConditionModel::from_single_file(path, &config, device)?;
        Ok(Self::new(unet, prediction))
    }

    /// The text width each cross-attention block attends to (`cross_attention_dim`, one value
    /// or one per block).
    pub fn cross_attention_widths(&self) -> Vec<usize> {
        match &self.unet.config().cross_attention_dim {
            PerBlock::One(w) => vec![*w],
            PerBlock::Many(ws) => ws.clone(),
        }
    }

    /// Whether the UNet takes SDXL's added conditions (`addition_embed_type: "text_time"`).
    pub fn takes_added_cond(&self) -> bool {
        self.unet.config().addition_embed_type.is_some()
    }
}

impl Denoiser for UnetDenoiser {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    /// # Panics
    /// When the UNet takes SDXL's added conditions and `cond` lacks `pooled` or `ids`: the
    /// family's load-time check guarantees its conditioner provides them.
    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4> {
        let added = if self.takes_added_cond() {
            match (&cond.pooled, &cond.ids) {
                (Some(text_embeds), Some(time_ids)) => Some(AddedCond {
                    text_embeds: text_embeds.clone(),
                    time_ids: time_ids.clone(),
                }),
                _ => panic!(
                    "this UNet takes SDXL's added conditions; the condition has no pooled \
                     embedding or no time_ids"
                ),
            }
        } else {
            // SD1.x UNets take only the hidden states; `pooled` is there for the
            // discriminator's text conditioning.
            None
        };
        self.unet
            .forward(x_t, timesteps, cond.hidden.clone(), added)
    }
}

impl ComponentDenoiser for UnetDenoiser {
    const SUBFOLDER: &'static str = "unet";

    fn load_like(&self, dir: &Path, device: &Device) -> Result<Self> {
        let unet = UNet2DConditionModel::from_pretrained(
            &ModelSource::Local(dir.to_path_buf()),
            "",
            device,
        )?;
        Ok(Self::new(unet, self.prediction))
    }

    fn save_pretrained(&self, dir: &Path) -> Result<()> {
        Ok(self.unet.save_pretrained(dir)?)
    }

    fn diffusers_key(path: &str) -> Option<String> {
        let key = path.strip_prefix("unet.")?;
        let remap = adt_diffusion::keys::projection_export_remap();
        adt_models_common::remap_key(key, &adt_diffusion::keys::as_pairs(&remap)).ok()
    }

    fn in_channels(&self) -> usize {
        self.unet.config().in_channels
    }

    fn out_channels(&self) -> usize {
        self.unet.config().out_channels
    }

    fn sample_size(&self) -> Option<(usize, usize)> {
        match &self.unet.config().sample_size {
            Some(SampleSize::Square(s)) => Some((*s, *s)),
            Some(SampleSize::Rect(hw)) if hw.len() == 2 => Some((hw[0], hw[1])),
            _ => None,
        }
    }
}
