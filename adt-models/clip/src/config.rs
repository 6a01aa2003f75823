//! `CLIPTextConfig` as transformers writes it to `config.json`.

use std::path::Path;

use serde::Deserialize;

use crate::ClipError;

/// The MLP activation (`hidden_act`), transformers `ACT2FN` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenAct {
    /// `quick_gelu`: `x * sigmoid(1.702 x)` (OpenAI CLIP, SD1.x).
    QuickGelu,
    /// `gelu`: exact, erf-based (OpenCLIP models: SD2, SDXL text_encoder_2).
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
}

impl HiddenAct {
    /// Parse a transformers activation name; `None` for names this port does not implement.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Self::QuickGelu),
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Some(Self::GeluTanh),
            _ => None,
        }
    }
}

/// transformers `CLIPTextConfig`. Fields transformers writes but that do not
/// shape the network (`initializer_range`, `dtype`, `transformers_version`, …)
/// are accepted and ignored; defaults are transformers' own.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipTextConfig {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "defaults::intermediate_size")]
    pub intermediate_size: usize,
    /// Output width of `text_projection` (only used with a projection).
    #[serde(default = "defaults::projection_dim")]
    pub projection_dim: usize,
    #[serde(default = "defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Only 0.0 is supported (every released CLIP text encoder); checked by [`Self::validate`].
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default = "defaults::pad_token_id")]
    pub pad_token_id: Option<i64>,
    #[serde(default = "defaults::bos_token_id")]
    pub bos_token_id: Option<i64>,
    /// Decides the pooling rule: `2` is the legacy value (pool at `argmax(input_ids)`),
    /// anything else pools at the first position holding this id.
    #[serde(default = "defaults::eos_token_id")]
    pub eos_token_id: Option<i64>,
    /// `["CLIPTextModelWithProjection"]` marks a checkpoint with `text_projection`.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub model_type: Option<String>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        49408
    }
    pub fn hidden_size() -> usize {
        512
    }
    pub fn intermediate_size() -> usize {
        2048
    }
    pub fn projection_dim() -> usize {
        512
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        8
    }
    pub fn max_position_embeddings() -> usize {
        77
    }
    pub fn hidden_act() -> String {
        "quick_gelu".into()
    }
    pub fn layer_norm_eps() -> f64 {
        1e-5
    }
    pub fn pad_token_id() -> Option<i64> {
        Some(1)
    }
    pub fn bos_token_id() -> Option<i64> {
        Some(49406)
    }
    pub fn eos_token_id() -> Option<i64> {
        Some(49407)
    }
}

impl ClipTextConfig {
    /// Read and validate a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ClipError> {
        let config: Self = adt_models_common::read_config(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The SD1.x text encoder, `openai/clip-vit-large-patch14` as shipped in
    /// `stable-diffusion-v1-5/stable-diffusion-v1-5` `text_encoder/config.json`
    /// (note the legacy `eos_token_id: 2`). Used for single-file checkpoints,
    /// which carry no config.
    pub fn sd15() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 768,
            intermediate_size: 3072,
            projection_dim: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            max_position_embeddings: 77,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
            attention_dropout: 0.0,
            pad_token_id: Some(1),
            bos_token_id: Some(0),
            eos_token_id: Some(2),
            architectures: Some(vec!["CLIPTextModel".into()]),
            model_type: Some("clip_text_model".into()),
        }
    }

    /// The parsed activation, or an error naming the field.
    pub fn activation(&self, path: &Path) -> Result<HiddenAct, ClipError> {
        HiddenAct::from_name(&self.hidden_act).ok_or_else(|| ClipError::Config {
            path: path.to_path_buf(),
            field: "hidden_act",
            message: format!(
                "unsupported activation `{}` (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)",
                self.hidden_act
            ),
        })
    }

    /// Whether the checkpoint is a `CLIPTextModelWithProjection`.
    pub fn has_projection(&self) -> bool {
        self.architectures
            .as_deref()
            .is_some_and(|a| a.iter().any(|n| n == "CLIPTextModelWithProjection"))
    }

    /// Reject values that would change the architecture in ways this port does
    /// not implement; `path` only names the file in the error.
    pub fn validate(&self, path: &Path) -> Result<(), ClipError> {
        let err = |field, message: String| ClipError::Config {
            path: path.to_path_buf(),
            field,
            message,
        };
        self.activation(path)?;
        if let Some(t) = self.model_type.as_deref()
            && t != "clip_text_model"
        {
            return Err(err(
                "model_type",
                format!("expected `clip_text_model` (a CLIPTextConfig), found `{t}`"),
            ));
        }
        for (field, v) in [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("max_position_embeddings", self.max_position_embeddings),
            ("vocab_size", self.vocab_size),
        ] {
            if v == 0 {
                return Err(err(field, "must be > 0".into()));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(err(
                "num_attention_heads",
                format!(
                    "hidden_size {} is not divisible by {} heads",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if self.attention_dropout != 0.0 {
            return Err(err(
                "attention_dropout",
                format!(
                    "{} is not supported (only 0.0, as in every released CLIP text encoder)",
                    self.attention_dropout
                ),
            ));
        }
        if self.layer_norm_eps <= 0.0 {
            return Err(err("layer_norm_eps", "must be > 0".into()));
        }
        Ok(())
    }
}
