//! `SD3Transformer2DModel` configuration, read from the checkpoint's `transformer/config.json`.
//!
//! Field names and defaults are diffusers' (`SD3Transformer2DModel.__init__`, diffusers
//! 0.37.1: SD3-medium's architecture). SD3.5's `qk_norm: "rms_norm"` and
//! `dual_attention_layers` (MMDiT-X) are supported; other values are rejected by name.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The transformer's `config.json`. Unknown fields are ignored (diffusers writes
/// `_class_name`, `_diffusers_version`); unknown *values* of known fields are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Sd3TransformerConfig {
    pub sample_size: usize,
    pub patch_size: usize,
    pub in_channels: usize,
    pub num_layers: usize,
    pub attention_head_dim: usize,
    pub num_attention_heads: usize,
    pub joint_attention_dim: usize,
    pub caption_projection_dim: usize,
    pub pooled_projection_dim: usize,
    pub out_channels: Option<usize>,
    pub pos_embed_max_size: Option<usize>,
    /// Blocks with the second (sample-only) attention of MMDiT-X (SD3.5).
    pub dual_attention_layers: Vec<usize>,
    /// `null` (SD3) or `"rms_norm"` (SD3.5): per-head RMS norm of queries and keys.
    pub qk_norm: Option<String>,
}

impl Default for Sd3TransformerConfig {
    /// diffusers' defaults (SD3-medium's widths).
    fn default() -> Self {
        Self {
            sample_size: 128,
            patch_size: 2,
            in_channels: 16,
            num_layers: 18,
            attention_head_dim: 64,
            num_attention_heads: 18,
            joint_attention_dim: 4096,
            caption_projection_dim: 1152,
            pooled_projection_dim: 2048,
            out_channels: Some(16),
            pos_embed_max_size: Some(96),
            dual_attention_layers: Vec::new(),
            qk_norm: None,
        }
    }
}

impl Sd3TransformerConfig {
    /// `num_attention_heads · attention_head_dim`: the width of every block.
    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }

    /// `out_channels`, defaulting to `in_channels`.
    pub fn out_channels(&self) -> usize {
        self.out_channels.unwrap_or(self.in_channels)
    }

    /// Whether queries and keys are RMS-normed per head (SD3.5).
    pub fn has_qk_norm(&self) -> bool {
        self.qk_norm.is_some()
    }

    /// Check every architecture option; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        for (field, v) in [
            ("patch_size", self.patch_size),
            ("in_channels", self.in_channels),
            ("num_layers", self.num_layers),
            ("attention_head_dim", self.attention_head_dim),
            ("num_attention_heads", self.num_attention_heads),
            ("joint_attention_dim", self.joint_attention_dim),
            ("pooled_projection_dim", self.pooled_projection_dim),
        ] {
            if v == 0 {
                return err(format!("`{field}` must be > 0"));
            }
        }
        match self.qk_norm.as_deref() {
            None | Some("rms_norm") => {}
            Some(other) => {
                return err(format!(
                    "`qk_norm` = {other:?} is not supported (SD3: null, SD3.5: \"rms_norm\")"
                ));
            }
        }
        if self.caption_projection_dim != self.inner_dim() {
            return err(format!(
                "`caption_projection_dim` = {} must equal num_attention_heads × attention_head_dim = {} \
                 (the context stream shares the blocks' width)",
                self.caption_projection_dim,
                self.inner_dim()
            ));
        }
        if self.pos_embed_max_size.is_none() {
            return err(
                "`pos_embed_max_size` = null is not supported (SD3's position table is cropped \
                 from a max-size grid)"
                    .into(),
            );
        }
        if let Some(&l) = self
            .dual_attention_layers
            .iter()
            .find(|&&l| l >= self.num_layers)
        {
            return err(format!(
                "`dual_attention_layers` names block {l} of {}",
                self.num_layers
            ));
        }
        Ok(())
    }
}
