//! SD3's MMDiT ([`Sd3Transformer2DModel`]) as the engine's trainable [`Denoiser`]: a flow
//! velocity predictor conditioned on the joint text sequence and the pooled embedding.

use std::path::Path;

use adt_diffusion::{Sd3Transformer2DModel, Sd3TransformerConfig};
use adt_models_common::{ModelSource, read_config};
use adt_plugin::traits::{Conditioning, Denoiser, Prediction};
use adt_schedulers::SamplerName;
use burn::prelude::*;

use crate::error::{FamilyError, Result};
use crate::family::SchedulerFile;

use super::{ComponentDenoiser, engine_prediction};

/// The MMDiT; it predicts the flow velocity ε − x0 (its scheduler must be a flow one).
#[derive(Module, Debug)]
pub struct MmditDenoiser {
    /// The network θ the engine tunes.
    pub transformer: Sd3Transformer2DModel,
}

impl MmditDenoiser {
    pub fn new(transformer: Sd3Transformer2DModel) -> Self {
        Self { transformer }
    }

    /// The scheduler must be flow matching: the MMDiT only predicts velocities.
    fn check_scheduler(scheduler: &SchedulerFile) -> Result<()> {
        let config = scheduler.config(SamplerName::FLOW_EULER)?;
        match engine_prediction(&config)? {
            Prediction::Flow => Ok(()),
            other => Err(FamilyError::Request(format!(
                "{}: the MMDiT predicts flow velocities; this scheduler predicts {other:?}",
                scheduler.origin
            ))),
        }
    }

    /// A pipeline's `transformer/` (its flow-matching scheduler checked).
    pub fn from_pipeline(
        source: &ModelSource,
        scheduler: &SchedulerFile,
        device: &Device,
    ) -> Result<Self> {
        Self::check_scheduler(scheduler)?;
        Ok(Self::new(Sd3Transformer2DModel::from_pretrained(
            source,
            "transformer",
            device,
        )?))
    }

    /// The MMDiT of a Stability single file (`model.diffusion_model.*`); the config comes
    /// from `configs`' `transformer/config.json`.
    pub fn from_single_file(
        path: &Path,
        configs: &ModelSource,
        scheduler: &SchedulerFile,
        device: &Device,
    ) -> Result<Self> {
        Self::check_scheduler(scheduler)?;
        let config: Sd3TransformerConfig = read_config(&configs.file("transformer/config.json")?)?;
        Ok(Self::new(Sd3Transformer2DModel::from_single_file(
            path, &config, device,
        )?))
    }

    /// Width of the joint text sequence it reads (`joint_attention_dim`).
    pub fn joint_attention_dim(&self) -> usize {
        self.transformer.config().joint_attention_dim
    }

    /// Width of the pooled embedding it reads (`pooled_projection_dim`).
    pub fn pooled_projection_dim(&self) -> usize {
        self.transformer.config().pooled_projection_dim
    }
}

impl Denoiser for MmditDenoiser {
    fn prediction(&self) -> Prediction {
        Prediction::Flow
    }

    /// # Panics
    /// When `cond` has no pooled embedding (the family's load-time check guarantees its
    /// conditioner provides one), or on a latent size the MMDiT cannot take (the pipeline and
    /// the trainer check sizes first).
    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4> {
        let pooled = cond
            .pooled
            .clone()
            .expect("the MMDiT needs the pooled text embedding (pooled_projections)");
        self.transformer
            .forward(x_t, cond.hidden.clone(), pooled, timesteps)
    }
}

impl ComponentDenoiser for MmditDenoiser {
    const SUBFOLDER: &'static str = "transformer";

    fn load_like(&self, dir: &Path, device: &Device) -> Result<Self> {
        Ok(Self::new(Sd3Transformer2DModel::from_pretrained(
            &ModelSource::Local(dir.to_path_buf()),
            "",
            device,
        )?))
    }

    fn save_pretrained(&self, dir: &Path) -> Result<()> {
        Ok(self.transformer.save_pretrained(dir)?)
    }

    /// The MMDiT's module paths are diffusers' keys (saved without a remap).
    fn diffusers_key(path: &str) -> Option<String> {
        path.strip_prefix("transformer.").map(str::to_string)
    }

    fn in_channels(&self) -> usize {
        self.transformer.config().in_channels
    }

    fn out_channels(&self) -> usize {
        self.transformer.config().out_channels()
    }

    fn sample_size(&self) -> Option<(usize, usize)> {
        let s = self.transformer.config().sample_size;
        Some((s, s))
    }

    fn check_latent_size(&self, height: usize, width: usize) -> Result<()> {
        self.transformer
            .check_latent_size(height, width)
            .map_err(|e| FamilyError::Request(format!("transformer: {}", e.0)))
    }
}
