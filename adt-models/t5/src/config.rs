//! `T5Config` as transformers writes it to `config.json` (the fields an encoder uses).

use std::path::Path;

use serde::Deserialize;

use crate::T5Error;

/// The feed-forward of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForwardKind {
    /// T5 v1.1 / flan-T5 (`"gated-gelu"`): `wo(gelu_new(wi_0 x) · wi_1 x)`, tanh GELU.
    GatedGelu,
    /// T5 v1.0 (`"relu"`): `wo(relu(wi x))`.
    Relu,
}

/// transformers `T5Config`. Fields that do not shape the encoder (`decoder_start_token_id`,
/// `num_decoder_layers`, `tie_word_embeddings`, …) are accepted and ignored; defaults are
/// transformers' own.
#[derive(Debug, Clone, Deserialize)]
pub struct T5Config {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::d_model")]
    pub d_model: usize,
    #[serde(default = "defaults::d_kv")]
    pub d_kv: usize,
    #[serde(default = "defaults::d_ff")]
    pub d_ff: usize,
    #[serde(default = "defaults::num_layers")]
    pub num_layers: usize,
    #[serde(default = "defaults::num_heads")]
    pub num_heads: usize,
    #[serde(default = "defaults::num_buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "defaults::max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "defaults::eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "defaults::feed_forward_proj")]
    pub feed_forward_proj: String,
    #[serde(default)]
    pub model_type: Option<String>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        32128
    }
    pub fn d_model() -> usize {
        512
    }
    pub fn d_kv() -> usize {
        64
    }
    pub fn d_ff() -> usize {
        2048
    }
    pub fn num_layers() -> usize {
        6
    }
    pub fn num_heads() -> usize {
        8
    }
    pub fn num_buckets() -> usize {
        32
    }
    pub fn max_distance() -> usize {
        128
    }
    pub fn eps() -> f64 {
        1e-6
    }
    pub fn feed_forward_proj() -> String {
        "relu".into()
    }
}

impl T5Config {
    /// Read and validate a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, T5Error> {
        let config: Self = adt_models_common::read_config(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The block's feed-forward, from `feed_forward_proj`.
    pub fn feed_forward(&self, path: &Path) -> Result<FeedForwardKind, T5Error> {
        match self.feed_forward_proj.as_str() {
            "gated-gelu" => Ok(FeedForwardKind::GatedGelu),
            "relu" => Ok(FeedForwardKind::Relu),
            other => Err(T5Error::Config {
                path: path.to_path_buf(),
                field: "feed_forward_proj",
                message: format!(
                    "{other:?} is not supported (\"gated-gelu\": T5 v1.1, \"relu\": T5 v1.0)"
                ),
            }),
        }
    }

    /// Check every architecture value; the error names the field.
    pub fn validate(&self, path: &Path) -> Result<(), T5Error> {
        let err = |field, message: String| T5Error::Config {
            path: path.to_path_buf(),
            field,
            message,
        };
        if let Some(t) = self.model_type.as_deref()
            && t != "t5"
        {
            return Err(err("model_type", format!("expected `t5`, found `{t}`")));
        }
        for (field, v) in [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
        ] {
            if v == 0 {
                return Err(err(field, "must be > 0".into()));
            }
        }
        if self.relative_attention_num_buckets < 4 {
            return Err(err(
                "relative_attention_num_buckets",
                format!("must be >= 4, got {}", self.relative_attention_num_buckets),
            ));
        }
        // Distances from num_buckets/4 up to max_distance share the logarithmic buckets;
        // below that bound the log of a ratio < 1 would give negative bucket ids.
        let exact = self.relative_attention_num_buckets / 4;
        if self.relative_attention_max_distance <= exact {
            return Err(err(
                "relative_attention_max_distance",
                format!(
                    "must be > relative_attention_num_buckets / 4 = {exact}, got {}",
                    self.relative_attention_max_distance
                ),
            ));
        }
        self.feed_forward(path)?;
        Ok(())
    }
}
