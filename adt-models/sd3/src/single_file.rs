//! The text encoders of Stability's SD3 / SD3.5 single files
//! (`sd3_medium_incl_clips.safetensors`, `sd3.5_medium.safetensors`, …): each is stored with
//! transformers' own names below one prefix, so the "key table" is the prefix alone
//! (diffusers: `convert_ldm_clip_checkpoint(checkpoint, prefix)`,
//! `convert_sd3_t5_checkpoint_to_diffusers`). The MMDiT's table is
//! `adt_diffusion::mmdit::original_keys`; the VAE's (`first_stage_model.*`) is the SD one.

use std::collections::BTreeSet;
use std::path::Path;

use adt_clip::{ClipError, ClipTextConfig, ClipTextModel, IGNORED_KEYS};
use adt_models_common::single_file::read_below;
use adt_models_common::{LoadOptions, load_tensor_map};
use adt_t5::{T5Config, T5EncoderModel, T5Error};
use burn::module::Param;
use burn::nn::LinearConfig;
use burn::prelude::*;

/// CLIP ViT-L (`text_encoder`).
pub const CLIP_L_PREFIX: &str = "text_encoders.clip_l.transformer.";
/// OpenCLIP ViT-bigG (`text_encoder_2`).
pub const CLIP_G_PREFIX: &str = "text_encoders.clip_g.transformer.";
/// T5 v1.1 XXL (`text_encoder_3`).
pub const T5_PREFIX: &str = "text_encoders.t5xxl.transformer.";
/// The MMDiT's blocks: what makes a file an SD3 one.
pub const MMDIT_BLOCKS_PREFIX: &str = "model.diffusion_model.joint_blocks.";

/// Whether any key of the file starts with `prefix`.
pub fn has(keys: &BTreeSet<String>, prefix: &str) -> bool {
    keys.iter().any(|k| k.starts_with(prefix))
}

/// CLIP-L out of the file, with an identity `text_projection`: SD3 pools CLIP-L unprojected
/// (Stability's reference code; diffusers' single-file loader sets `torch.eye` and ignores a
/// stored projection), so `text_embeds` is the pooled output itself.
pub fn load_clip_l(
    path: &Path,
    config: &ClipTextConfig,
    device: &Device,
) -> Result<ClipTextModel, ClipError> {
    let ignored: Vec<&str> = IGNORED_KEYS
        .iter()
        .copied()
        .chain([r"^text_projection\.weight$"])
        .collect();
    let model = ClipTextModel::new(config, false, device)?;
    let mut model = load_tensor_map(
        model,
        &read_below(path, CLIP_L_PREFIX, "CLIP-L text encoder")?,
        path,
        &LoadOptions {
            ignore_unused: &ignored,
            ..Default::default()
        },
    )?;
    let hidden = model.hidden_size();
    let mut eye = LinearConfig::new(hidden, hidden)
        .with_bias(false)
        .init(device);
    eye.weight = Param::from_tensor(Tensor::eye(hidden, device));
    model.text_projection = Some(eye);
    Ok(model)
}

/// CLIP-G out of the file, with its stored `text_projection`.
pub fn load_clip_g(
    path: &Path,
    config: &ClipTextConfig,
    device: &Device,
) -> Result<ClipTextModel, ClipError> {
    let model = ClipTextModel::new(config, true, device)?;
    Ok(load_tensor_map(
        model,
        &read_below(path, CLIP_G_PREFIX, "CLIP-G text encoder")?,
        path,
        &LoadOptions {
            ignore_unused: IGNORED_KEYS,
            ..Default::default()
        },
    )?)
}

/// T5 out of the file (fp8 weights upcast to f32).
pub fn load_t5(path: &Path, config: &T5Config, device: &Device) -> Result<T5EncoderModel, T5Error> {
    T5EncoderModel::from_single_file(path, T5_PREFIX, config, device)
}
