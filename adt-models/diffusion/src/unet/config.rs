//! `UNet2DConditionModel` configuration, read from the checkpoint's `unet/config.json`.
//!
//! Field names and defaults are diffusers' (`UNet2DConditionModel.__init__`, diffusers
//! 0.37.1). Every option SD1.x, SD2.x and SDXL checkpoints use is supported; options that
//! would change the architecture in a way this port does not implement are rejected by
//! [`UNet2DConditionConfig::validate`] with a message naming the field and value.

use serde::{Deserialize, Serialize};

use crate::config_util::{PerBlock, SampleSize};
use crate::error::ConfigError;

/// The UNet's `config.json`. Unknown fields are ignored (diffusers writes `_class_name`,
/// `_diffusers_version`, ...); unknown *values* of known fields are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UNet2DConditionConfig {
    pub sample_size: Option<SampleSize>,
    pub in_channels: usize,
    pub out_channels: usize,
    pub center_input_sample: bool,
    pub flip_sin_to_cos: bool,
    pub freq_shift: f64,
    pub down_block_types: Vec<String>,
    pub mid_block_type: Option<String>,
    pub up_block_types: Vec<String>,
    pub only_cross_attention: PerBlock<bool>,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: PerBlock<usize>,
    pub downsample_padding: usize,
    pub mid_block_scale_factor: f64,
    pub dropout: f64,
    pub act_fn: String,
    pub norm_num_groups: Option<usize>,
    pub norm_eps: f64,
    pub cross_attention_dim: PerBlock<usize>,
    pub transformer_layers_per_block: PerBlock<usize>,
    pub reverse_transformer_layers_per_block: Option<serde_json::Value>,
    pub encoder_hid_dim: Option<usize>,
    pub encoder_hid_dim_type: Option<String>,
    /// Diffusers quirk: when `num_attention_heads` is null this is the number of heads.
    pub attention_head_dim: PerBlock<usize>,
    pub num_attention_heads: Option<PerBlock<usize>>,
    pub dual_cross_attention: bool,
    pub use_linear_projection: bool,
    pub class_embed_type: Option<String>,
    pub addition_embed_type: Option<String>,
    pub addition_time_embed_dim: Option<usize>,
    pub num_class_embeds: Option<usize>,
    /// Computes attention scores in f32; a no-op for this f32 port (kept for config fidelity).
    pub upcast_attention: bool,
    pub resnet_time_scale_shift: String,
    pub resnet_skip_time_act: bool,
    pub resnet_out_scale_factor: f64,
    pub time_embedding_type: String,
    pub time_embedding_dim: Option<usize>,
    pub time_embedding_act_fn: Option<String>,
    pub timestep_post_act: Option<String>,
    pub time_cond_proj_dim: Option<usize>,
    pub conv_in_kernel: usize,
    pub conv_out_kernel: usize,
    pub projection_class_embeddings_input_dim: Option<usize>,
    pub attention_type: String,
    pub class_embeddings_concat: bool,
    pub mid_block_only_cross_attention: Option<bool>,
    pub cross_attention_norm: Option<String>,
    pub addition_embed_type_num_heads: usize,
}

impl Default for UNet2DConditionConfig {
    /// diffusers' defaults (which are SD1.x's architecture at full width).
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Self {
            sample_size: None,
            in_channels: 4,
            out_channels: 4,
            center_input_sample: false,
            flip_sin_to_cos: true,
            freq_shift: 0.0,
            down_block_types: s(&[
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ]),
            mid_block_type: Some("UNetMidBlock2DCrossAttn".into()),
            up_block_types: s(&[
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ]),
            only_cross_attention: PerBlock::One(false),
            block_out_channels: vec![320, 640, 1280, 1280],
            layers_per_block: PerBlock::One(2),
            downsample_padding: 1,
            mid_block_scale_factor: 1.0,
            dropout: 0.0,
            act_fn: "silu".into(),
            norm_num_groups: Some(32),
            norm_eps: 1e-5,
            cross_attention_dim: PerBlock::One(1280),
            transformer_layers_per_block: PerBlock::One(1),
            reverse_transformer_layers_per_block: None,
            encoder_hid_dim: None,
            encoder_hid_dim_type: None,
            attention_head_dim: PerBlock::One(8),
            num_attention_heads: None,
            dual_cross_attention: false,
            use_linear_projection: false,
            class_embed_type: None,
            addition_embed_type: None,
            addition_time_embed_dim: None,
            num_class_embeds: None,
            upcast_attention: false,
            resnet_time_scale_shift: "default".into(),
            resnet_skip_time_act: false,
            resnet_out_scale_factor: 1.0,
            time_embedding_type: "positional".into(),
            time_embedding_dim: None,
            time_embedding_act_fn: None,
            timestep_post_act: None,
            time_cond_proj_dim: None,
            conv_in_kernel: 3,
            conv_out_kernel: 3,
            projection_class_embeddings_input_dim: None,
            attention_type: "default".into(),
            class_embeddings_concat: false,
            mid_block_only_cross_attention: None,
            cross_attention_norm: None,
            addition_embed_type_num_heads: 64,
        }
    }
}

/// Down-block kinds this port builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownBlockKind {
    CrossAttnDownBlock2D,
    DownBlock2D,
}

/// Up-block kinds this port builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpBlockKind {
    CrossAttnUpBlock2D,
    UpBlock2D,
}

/// Mid-block kinds this port builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidBlockKind {
    UNetMidBlock2DCrossAttn,
    UNetMidBlock2D,
}

/// The config with per-block lists expanded and every choice checked.
#[derive(Debug, Clone)]
pub struct ResolvedUNet {
    pub down: Vec<DownBlockKind>,
    pub up: Vec<UpBlockKind>,
    pub mid: Option<MidBlockKind>,
    pub layers_per_block: Vec<usize>,
    /// Heads per down block (diffusers: `num_attention_heads or attention_head_dim`).
    pub heads: Vec<usize>,
    pub cross_attention_dim: Vec<usize>,
    pub transformer_layers: Vec<usize>,
    pub norm_groups: usize,
    pub time_embed_dim: usize,
    /// `Some((addition_time_embed_dim, projection_class_embeddings_input_dim))` for SDXL's
    /// `addition_embed_type: "text_time"`.
    pub text_time: Option<(usize, usize)>,
}

fn unsupported(field: &str, value: impl std::fmt::Debug, why: &str) -> ConfigError {
    ConfigError(format!("`{field}` = {value:?} is not supported: {why}"))
}

impl UNet2DConditionConfig {
    /// Check every architecture-changing option and expand per-block values.
    pub fn validate(&self) -> Result<ResolvedUNet, ConfigError> {
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
        let down = self
            .down_block_types
            .iter()
            .map(|t| match t.as_str() {
                "CrossAttnDownBlock2D" => Ok(DownBlockKind::CrossAttnDownBlock2D),
                "DownBlock2D" => Ok(DownBlockKind::DownBlock2D),
                other => Err(unsupported(
                    "down_block_types",
                    other,
                    "known: CrossAttnDownBlock2D, DownBlock2D",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let up = self
            .up_block_types
            .iter()
            .map(|t| match t.as_str() {
                "CrossAttnUpBlock2D" => Ok(UpBlockKind::CrossAttnUpBlock2D),
                "UpBlock2D" => Ok(UpBlockKind::UpBlock2D),
                other => Err(unsupported(
                    "up_block_types",
                    other,
                    "known: CrossAttnUpBlock2D, UpBlock2D",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mid = match self.mid_block_type.as_deref() {
            None => None,
            Some("UNetMidBlock2DCrossAttn") => Some(MidBlockKind::UNetMidBlock2DCrossAttn),
            Some("UNetMidBlock2D") => Some(MidBlockKind::UNetMidBlock2D),
            Some(other) => {
                return Err(unsupported(
                    "mid_block_type",
                    other,
                    "known: UNetMidBlock2DCrossAttn, UNetMidBlock2D, null",
                ));
            }
        };
        let per_block = |name: &str| {
            ConfigError(format!(
                "`{name}` must be one value or a list of {n} values"
            ))
        };
        let layers_per_block = self
            .layers_per_block
            .expand(n)
            .ok_or_else(|| per_block("layers_per_block"))?;
        let heads_src = self
            .num_attention_heads
            .as_ref()
            .unwrap_or(&self.attention_head_dim);
        let heads = heads_src
            .expand(n)
            .ok_or_else(|| per_block("num_attention_heads/attention_head_dim"))?;
        let cross_attention_dim = self
            .cross_attention_dim
            .expand(n)
            .ok_or_else(|| per_block("cross_attention_dim"))?;
        let transformer_layers = self
            .transformer_layers_per_block
            .expand(n)
            .ok_or_else(|| per_block("transformer_layers_per_block"))?;
        let only_cross = self
            .only_cross_attention
            .expand(n)
            .ok_or_else(|| per_block("only_cross_attention"))?;
        if only_cross.iter().any(|&b| b) || self.mid_block_only_cross_attention == Some(true) {
            return Err(unsupported(
                "only_cross_attention",
                &only_cross,
                "SD/SDXL use false",
            ));
        }
        if let Some(v) = &self.reverse_transformer_layers_per_block
            && !v.is_null()
        {
            return Err(unsupported(
                "reverse_transformer_layers_per_block",
                v,
                "SD/SDXL use null",
            ));
        }
        let norm_groups = self
            .norm_num_groups
            .ok_or_else(|| unsupported("norm_num_groups", "null", "group norm is required"))?;
        if norm_groups == 0 || heads.contains(&0) {
            return Err(ConfigError(
                "`norm_num_groups` and the head counts must be positive".into(),
            ));
        }
        for (i, &c) in self.block_out_channels.iter().enumerate() {
            if c % norm_groups != 0 {
                return Err(ConfigError(format!(
                    "`block_out_channels[{i}]` = {c} is not divisible by `norm_num_groups` = {norm_groups}"
                )));
            }
            if down[i] == DownBlockKind::CrossAttnDownBlock2D && c % heads[i] != 0 {
                return Err(ConfigError(format!(
                    "`block_out_channels[{i}]` = {c} is not divisible by the head count {}",
                    heads[i]
                )));
            }
        }
        if !matches!(self.act_fn.as_str(), "silu" | "swish") {
            return Err(unsupported("act_fn", &self.act_fn, "SD/SDXL use silu"));
        }
        if self.dual_cross_attention {
            return Err(unsupported(
                "dual_cross_attention",
                true,
                "SD/SDXL use false",
            ));
        }
        if self.dropout != 0.0 {
            return Err(unsupported(
                "dropout",
                self.dropout,
                "dropout is not implemented",
            ));
        }
        let checks: [(&str, bool, String); 13] = [
            (
                "resnet_out_scale_factor",
                self.resnet_out_scale_factor == 1.0,
                self.resnet_out_scale_factor.to_string(),
            ),
            (
                "class_embed_type",
                self.class_embed_type.is_none(),
                format!("{:?}", self.class_embed_type),
            ),
            (
                "num_class_embeds",
                self.num_class_embeds.is_none(),
                format!("{:?}", self.num_class_embeds),
            ),
            (
                "encoder_hid_dim_type",
                self.encoder_hid_dim_type.is_none(),
                format!("{:?}", self.encoder_hid_dim_type),
            ),
            (
                "resnet_time_scale_shift",
                self.resnet_time_scale_shift == "default",
                self.resnet_time_scale_shift.clone(),
            ),
            (
                "resnet_skip_time_act",
                !self.resnet_skip_time_act,
                "true".into(),
            ),
            (
                "time_embedding_type",
                self.time_embedding_type == "positional",
                self.time_embedding_type.clone(),
            ),
            (
                "time_embedding_act_fn",
                self.time_embedding_act_fn.is_none(),
                format!("{:?}", self.time_embedding_act_fn),
            ),
            (
                "timestep_post_act",
                self.timestep_post_act.is_none(),
                format!("{:?}", self.timestep_post_act),
            ),
            (
                "time_cond_proj_dim",
                self.time_cond_proj_dim.is_none(),
                format!("{:?}", self.time_cond_proj_dim),
            ),
            (
                "attention_type",
                self.attention_type == "default",
                self.attention_type.clone(),
            ),
            (
                "class_embeddings_concat",
                !self.class_embeddings_concat,
                "true".into(),
            ),
            (
                "cross_attention_norm",
                self.cross_attention_norm.is_none(),
                format!("{:?}", self.cross_attention_norm),
            ),
        ];
        if let Some((field, _, value)) = checks.iter().find(|(_, ok, _)| !ok) {
            return Err(ConfigError(format!(
                "`{field}` = {value} is not supported (SD1.x/2.x/SDXL leave it at the diffusers default)"
            )));
        }
        if self.conv_in_kernel.is_multiple_of(2) || self.conv_out_kernel.is_multiple_of(2) {
            return Err(ConfigError(
                "`conv_in_kernel`/`conv_out_kernel` must be odd".into(),
            ));
        }
        let time_embed_dim = self
            .time_embedding_dim
            .unwrap_or(self.block_out_channels[0] * 4);
        let text_time = match self.addition_embed_type.as_deref() {
            None => None,
            Some("text_time") => {
                let t = self.addition_time_embed_dim.ok_or_else(|| {
                    ConfigError(
                        "`addition_embed_type` \"text_time\" needs `addition_time_embed_dim`"
                            .into(),
                    )
                })?;
                let p = self.projection_class_embeddings_input_dim.ok_or_else(|| {
                    ConfigError(
                        "`addition_embed_type` \"text_time\" needs `projection_class_embeddings_input_dim`".into(),
                    )
                })?;
                Some((t, p))
            }
            Some(other) => {
                return Err(unsupported(
                    "addition_embed_type",
                    other,
                    "known: null, \"text_time\"",
                ));
            }
        };
        Ok(ResolvedUNet {
            down,
            up,
            mid,
            layers_per_block,
            heads,
            cross_attention_dim,
            transformer_layers,
            norm_groups,
            time_embed_dim,
            text_time,
        })
    }
}
