//! transformers `CLIPTextModel` / `CLIPTextModelWithProjection`.
//!
//! The module tree mirrors the transformers state dict, so a `text_encoder/`
//! folder loads with no key remap:
//!
//! ```text
//! text_model.embeddings.{token,position}_embedding.weight
//! text_model.encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}
//! text_model.encoder.layers.N.layer_norm{1,2}.{weight,bias}
//! text_model.encoder.layers.N.mlp.fc{1,2}.{weight,bias}
//! text_model.final_layer_norm.{weight,bias}
//! text_projection.weight                       (WithProjection only, no bias)
//! ```

mod attention;
mod embeddings;
mod encoder;
mod mlp;
mod transformer;

use std::path::{Path, PathBuf};

use adt_models_common::{LoadOptions, ModelSource, load_safetensors_with};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

pub use attention::{ClipAttention, causal_mask};
pub use embeddings::ClipTextEmbeddings;
pub use encoder::{ClipEncoder, ClipEncoderLayer};
pub use mlp::ClipMlp;
pub use transformer::{ClipTextTransformer, Pooling, gather_positions, pooled_positions};

use crate::{ClipError, ClipTextConfig, ClipTokenizer};

/// Checkpoint keys the port deliberately leaves unused: the constant
/// `position_ids` buffer (`arange(max_position_embeddings)`) that checkpoints
/// saved before transformers made it non-persistent still carry (SD1.5's
/// `text_encoder/model.safetensors` does). Positions are always `0..seq`.
pub const IGNORED_KEYS: &[&str] = &[r"(^|\.)embeddings\.position_ids$"];

/// SD1.x single-file checkpoints (`v1-5-pruned-emaonly.safetensors`, …) keep
/// the text encoder under `cond_stage_model.transformer.` with transformers
/// names below it (as diffusers' `convert_ldm_clip_checkpoint` strips it).
pub const SD1_SINGLE_FILE_REMAP: &[(&str, &str)] = &[(r"^cond_stage_model\.transformer\.", "")];

/// SDXL single-file checkpoints keep the CLIP ViT-L text encoder (the first of
/// two) under `conditioner.embedders.0.transformer.`. (The second, OpenCLIP
/// bigG, uses the OpenCLIP layout with fused `in_proj` and is not covered.)
pub const SDXL_TEXT_ENCODER_SINGLE_FILE_REMAP: &[(&str, &str)] =
    &[(r"^conditioner\.embedders\.0\.transformer\.", "")];

/// The other parts of a single-file checkpoint (UNet, VAE, EMA, schedule
/// buffers without a dot), ignored when only the text encoder is loaded from it.
pub const SINGLE_FILE_IGNORED_KEYS: &[&str] = &[
    r"(^|\.)embeddings\.position_ids$",
    r"^(model|model_ema|first_stage_model|cond_stage_model|conditioner)\.",
    r"^[^.]+$",
];

/// Outputs of [`ClipTextModel::forward`], named as in transformers.
#[derive(Debug, Clone)]
pub struct ClipTextOutput {
    /// `[batch, seq, hidden]`, after `final_layer_norm`.
    pub last_hidden_state: Tensor<3>,
    /// `[batch, hidden]`: `last_hidden_state` at the pooled (EOS) position.
    pub pooler_output: Tensor<2>,
    /// `num_hidden_layers + 1` tensors `[batch, seq, hidden]`: the embeddings
    /// output, then every layer's output (before `final_layer_norm`), as
    /// transformers' `output_hidden_states=True`. SDXL uses `hidden_states[-2]`.
    pub hidden_states: Vec<Tensor<3>>,
    /// `[batch, projection_dim]`: `text_projection(pooler_output)`, only for
    /// `CLIPTextModelWithProjection`.
    pub text_embeds: Option<Tensor<2>>,
}

impl ClipTextOutput {
    /// `hidden_states[-2]`: the penultimate layer's output, before `final_layer_norm` (the
    /// prompt embedding of SDXL and SD3).
    pub fn penultimate(&self) -> Tensor<3> {
        self.hidden_states[self.hidden_states.len() - 2].clone()
    }
}

/// CLIP text encoder, optionally with the `text_projection` head.
///
/// Differentiable end to end (build it on an autodiff device to train it, or
/// call `.no_grad()` / build on a plain device for frozen use).
#[derive(Module, Debug)]
pub struct ClipTextModel {
    pub text_model: ClipTextTransformer,
    pub text_projection: Option<Linear>,
    #[module(skip)]
    max_positions: usize,
}

impl ClipTextModel {
    /// Randomly initialised model (weights are meant to be loaded next).
    pub fn new(
        config: &ClipTextConfig,
        with_projection: bool,
        device: &Device,
    ) -> Result<Self, ClipError> {
        let path = Path::new("<ClipTextConfig>");
        config.validate(path)?;
        let act = config.activation(path)?;
        Ok(Self {
            text_model: ClipTextTransformer::new(config, act, device),
            text_projection: with_projection.then(|| {
                LinearConfig::new(config.hidden_size, config.projection_dim)
                    .with_bias(false)
                    .init(device)
            }),
            max_positions: config.max_position_embeddings,
        })
    }

    /// Load `subfolder/config.json` + `subfolder/model.safetensors` (falling
    /// back to `model.fp16.safetensors`, upcast to f32, or shards) from a transformers or
    /// diffusers checkpoint, e.g. `(sd15, "text_encoder")`. `subfolder` may be
    /// empty. The projection head is built when `architectures` names
    /// `CLIPTextModelWithProjection`.
    pub fn from_pretrained(
        source: &ModelSource,
        subfolder: &str,
        device: &Device,
    ) -> Result<Self, ClipError> {
        let config_path = source.file_in(subfolder, "config.json")?;
        let config = ClipTextConfig::from_file(&config_path)?;
        let weights = source.weight_files(subfolder, "model")?;
        Self::new(&config, config.has_projection(), device)?.load_weights(
            &weights,
            &[],
            IGNORED_KEYS,
        )
    }

    /// The text encoder of a single-file SD checkpoint: `remap` is
    /// [`SD1_SINGLE_FILE_REMAP`] or [`SDXL_TEXT_ENCODER_SINGLE_FILE_REMAP`],
    /// `config` e.g. [`ClipTextConfig::sd15`]. Other parts of the file are ignored.
    pub fn from_single_file(
        path: &Path,
        config: &ClipTextConfig,
        remap: &[(&str, &str)],
        device: &Device,
    ) -> Result<Self, ClipError> {
        Self::new(config, false, device)?.load_weights(
            &[path.to_path_buf()],
            remap,
            SINGLE_FILE_IGNORED_KEYS,
        )
    }

    /// Strictly load safetensors `files` into this model: every parameter must
    /// be present with the right shape, and every checkpoint tensor must be used
    /// except those matching `ignore_unused` (regexes, after `remap`).
    pub fn load_weights(
        self,
        files: &[PathBuf],
        remap: &[(&str, &str)],
        ignore_unused: &[&str],
    ) -> Result<Self, ClipError> {
        let opts = LoadOptions {
            remap,
            ignore_unused,
            allow_missing: false,
        };
        Ok(load_safetensors_with(self, files, &opts)?)
    }

    /// Run the encoder on `input_ids` `[batch, seq]` (`seq <= max_position_embeddings`).
    ///
    /// # Panics
    /// If `seq` exceeds `max_position_embeddings` (use [`Self::try_forward`] to get an error).
    pub fn forward(&self, input_ids: Tensor<2, Int>) -> ClipTextOutput {
        match self.try_forward(input_ids) {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Self::forward`] that reports a too-long sequence as an error.
    pub fn try_forward(&self, input_ids: Tensor<2, Int>) -> Result<ClipTextOutput, ClipError> {
        let [_, seq] = input_ids.dims();
        if seq > self.max_positions || seq == 0 {
            return Err(ClipError::Encode(format!(
                "sequence length {seq} must be in 1..={} (max_position_embeddings)",
                self.max_positions
            )));
        }
        let out = self.text_model.forward(input_ids);
        let text_embeds = self
            .text_projection
            .as_ref()
            .map(|p| p.forward(out.pooler_output.clone()));
        Ok(ClipTextOutput {
            last_hidden_state: out.last_hidden_state,
            pooler_output: out.pooler_output,
            hidden_states: out.hidden_states,
            text_embeds,
        })
    }

    /// Tokenize `prompts` with `tokenizer` (padded and truncated to its length) and encode
    /// them: what a pipeline's conditioner does with one CLIP encoder.
    ///
    /// # Panics
    /// If the tokenizer fails: it only does on inconsistencies of files it validated at load
    /// time, never on prompt text.
    pub fn encode_prompts(
        &self,
        tokenizer: &ClipTokenizer,
        prompts: &[String],
        device: &Device,
    ) -> ClipTextOutput {
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let ids = tokenizer
            .encode_batch_tensor(&refs, device)
            .unwrap_or_else(|e| panic!("CLIP tokenizer failed on a prompt: {e}"));
        self.forward(ids)
    }

    /// `max_position_embeddings`: the longest sequence the model accepts.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// `hidden_size`: the width of `last_hidden_state` (SD's `cross_attention_dim`).
    pub fn hidden_size(&self) -> usize {
        self.text_model.embeddings.token_embedding.weight.dims()[1]
    }
}
