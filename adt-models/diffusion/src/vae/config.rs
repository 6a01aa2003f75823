//! `AutoencoderKL` configuration, read from `vae/config.json` (diffusers 0.37.1 field names
//! and defaults).

use serde::{Deserialize, Serialize};

use crate::config_util::SampleSize;
use crate::error::ConfigError;

/// The VAE's `config.json`. Unknown fields are ignored; unknown values are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoencoderKLConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    pub act_fn: String,
    pub latent_channels: usize,
    pub norm_num_groups: usize,
    pub sample_size: Option<SampleSize>,
    /// Latents are `(z - shift_factor) * scaling_factor` in the diffusion model's space.
    pub scaling_factor: f64,
    pub shift_factor: Option<f64>,
    pub latents_mean: Option<Vec<f64>>,
    pub latents_std: Option<Vec<f64>>,
    pub force_upcast: bool,
    pub use_quant_conv: bool,
    pub use_post_quant_conv: bool,
    pub mid_block_add_attention: bool,
}

impl Default for AutoencoderKLConfig {
    fn default() -> Self {
        Self {
            in_channels: 3,
            out_channels: 3,
            down_block_types: vec!["DownEncoderBlock2D".into()],
            up_block_types: vec!["UpDecoderBlock2D".into()],
            block_out_channels: vec![64],
            layers_per_block: 1,
            act_fn: "silu".into(),
            latent_channels: 4,
            norm_num_groups: 32,
            sample_size: None,
            scaling_factor: 0.18215,
            shift_factor: None,
            latents_mean: None,
            latents_std: None,
            force_upcast: true,
            use_quant_conv: true,
            use_post_quant_conv: true,
            mid_block_add_attention: true,
        }
    }
}

impl AutoencoderKLConfig {
    /// Check the options that change the architecture.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.block_out_channels.len();
        if n == 0 {
            return Err(ConfigError("`block_out_channels` is empty".into()));
        }
        if self.down_block_types.len() != n || self.up_block_types.len() != n {
            return Err(ConfigError(format!(
                "`down_block_types` ({}) and `up_block_types` ({}) must have one entry per `block_out_channels` ({n})",
                self.down_block_types.len(),
                self.up_block_types.len()
            )));
        }
        if let Some(t) = self
            .down_block_types
            .iter()
            .find(|t| *t != "DownEncoderBlock2D")
        {
            return Err(ConfigError(format!(
                "`down_block_types` = {t:?} is not supported (known: DownEncoderBlock2D)"
            )));
        }
        if let Some(t) = self
            .up_block_types
            .iter()
            .find(|t| *t != "UpDecoderBlock2D")
        {
            return Err(ConfigError(format!(
                "`up_block_types` = {t:?} is not supported (known: UpDecoderBlock2D)"
            )));
        }
        if !matches!(self.act_fn.as_str(), "silu" | "swish") {
            return Err(ConfigError(format!(
                "`act_fn` = {:?} is not supported (SD VAEs use silu)",
                self.act_fn
            )));
        }
        if self.norm_num_groups == 0 {
            return Err(ConfigError("`norm_num_groups` must be positive".into()));
        }
        if let Some(c) = self
            .block_out_channels
            .iter()
            .find(|&&c| c % self.norm_num_groups != 0)
        {
            return Err(ConfigError(format!(
                "`block_out_channels` entry {c} is not divisible by `norm_num_groups` = {}",
                self.norm_num_groups
            )));
        }
        Ok(())
    }
}
