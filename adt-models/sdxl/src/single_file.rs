//! The original SGM single file (`sd_xl_base_1.0.safetensors`) → the diffusers components.
//!
//! | SGM prefix                              | component                                        |
//! |-----------------------------------------|--------------------------------------------------|
//! | `model.diffusion_model.`                | `unet` (adt-diffusion's LDM table, incl. `label_emb`) |
//! | `first_stage_model.`                    | `vae` (adt-diffusion's LDM table)                |
//! | `conditioner.embedders.0.transformer.`  | `text_encoder`: transformers names below the prefix |
//! | `conditioner.embedders.1.model.`        | `text_encoder_2`: the OpenCLIP layout, [`openclip_keys`] |
//! | `conditioner.embedders.0.model.`        | the refiner's `text_encoder_2` (its only embedder) |
//!
//! The OpenCLIP table is ported from diffusers' `convert_open_clip_checkpoint`
//! (`loaders/single_file_utils.py`) and `scripts/convert_diffusers_to_original_sdxl.py`:
//! the fused attention `in_proj` is split in three equal parts (q, k, v) and
//! `text_projection` (used as `x @ P`, `[width, proj]`) is transposed into a linear weight
//! (`adt_models_common::convert`).

use std::collections::BTreeMap;
use std::path::Path;

use adt_clip::{ClipTextConfig, ClipTextModel, IGNORED_KEYS, SDXL_TEXT_ENCODER_SINGLE_FILE_REMAP};
use adt_models_common::convert::{Rule, Transform, convert, rule};
use adt_models_common::single_file::read_below;
use adt_models_common::{LoadError, LoadOptions, load_tensor_map};
use burn::prelude::*;

/// Where `text_encoder` (OpenAI CLIP ViT-L, transformers names) lives in the file.
pub const TEXT_ENCODER_PREFIX: &str = "conditioner.embedders.0.transformer.";
/// Where `text_encoder_2` (OpenCLIP ViT-bigG) lives in a base file.
pub const TEXT_ENCODER_2_PREFIX: &str = "conditioner.embedders.1.model.";
/// Where it lives in a refiner file (`sd_xl_refiner_1.0.safetensors`: OpenCLIP is the only
/// embedder).
pub const REFINER_TEXT_ENCODER_2_PREFIX: &str = "conditioner.embedders.0.model.";

/// The OpenCLIP prefix of a file with these keys: the base layout's, else the refiner's.
pub fn openclip_prefix<'a>(
    keys: impl IntoIterator<Item = &'a String> + Clone,
) -> Option<&'static str> {
    [TEXT_ENCODER_2_PREFIX, REFINER_TEXT_ENCODER_2_PREFIX]
        .into_iter()
        .find(|p| keys.clone().into_iter().any(|k| k.starts_with(p)))
}

/// OpenCLIP key (below the OpenCLIP prefix) → transformers `CLIPTextModelWithProjection`
/// key, and the transform.
pub fn openclip_keys() -> Vec<Rule> {
    vec![
        rule(
            r"^token_embedding\.weight$",
            "text_model.embeddings.token_embedding.weight",
            Transform::Copy,
        ),
        rule(
            r"^positional_embedding$",
            "text_model.embeddings.position_embedding.weight",
            Transform::Copy,
        ),
        rule(
            r"^ln_final\.(weight|bias)$",
            "text_model.final_layer_norm.$1",
            Transform::Copy,
        ),
        rule(
            r"^text_projection$",
            "text_projection.weight",
            Transform::Transpose,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.ln_1\.(weight|bias)$",
            "text_model.encoder.layers.$1.layer_norm1.$2",
            Transform::Copy,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.ln_2\.(weight|bias)$",
            "text_model.encoder.layers.$1.layer_norm2.$2",
            Transform::Copy,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.mlp\.c_fc\.(weight|bias)$",
            "text_model.encoder.layers.$1.mlp.fc1.$2",
            Transform::Copy,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.mlp\.c_proj\.(weight|bias)$",
            "text_model.encoder.layers.$1.mlp.fc2.$2",
            Transform::Copy,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.attn\.out_proj\.(weight|bias)$",
            "text_model.encoder.layers.$1.self_attn.out_proj.$2",
            Transform::Copy,
        ),
        rule(
            r"^transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$",
            "text_model.encoder.layers.$1.self_attn.{}_proj.$2",
            Transform::SplitQkv,
        ),
    ]
}

/// OpenCLIP tensors with no counterpart in transformers' text model (the contrastive
/// `logit_scale`; the causal `attn_mask` buffer some files keep).
pub const OPENCLIP_IGNORED: &[&str] = &["^logit_scale$", "^attn_mask$"];

/// The OpenCLIP tensors below `prefix` of `path` under transformers names. Strict: a key the
/// table ([`openclip_keys`]) does not know (and [`OPENCLIP_IGNORED`] does not list) is an
/// error naming it.
pub fn openclip_tensors(
    path: &Path,
    prefix: &str,
) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let raw = read_below(path, prefix, "OpenCLIP text encoder")?;
    convert(raw, &openclip_keys(), OPENCLIP_IGNORED, path, prefix)
}

/// A CLIP text model of `config` (with the projection head when `projection`) loaded
/// strictly from `tensors` (transformers names), read from `path`.
fn load_clip(
    path: &Path,
    config: &ClipTextConfig,
    projection: bool,
    tensors: &BTreeMap<String, TensorData>,
    device: &Device,
) -> Result<ClipTextModel, adt_clip::ClipError> {
    let model = ClipTextModel::new(config, projection, device)?;
    Ok(load_tensor_map(
        model,
        tensors,
        path,
        &LoadOptions {
            ignore_unused: IGNORED_KEYS,
            ..Default::default()
        },
    )?)
}

/// `text_encoder_2` (OpenCLIP ViT-bigG, with projection) out of an SGM single file, below
/// `prefix` ([`openclip_prefix`]).
pub fn load_text_encoder_2(
    path: &Path,
    prefix: &str,
    config: &ClipTextConfig,
    device: &Device,
) -> Result<ClipTextModel, adt_clip::ClipError> {
    load_clip(path, config, true, &openclip_tensors(path, prefix)?, device)
}

/// `text_encoder` (CLIP ViT-L, transformers names below [`TEXT_ENCODER_PREFIX`]) out of an
/// SGM single file: adt-clip's single-file loader with its SDXL table.
pub fn load_text_encoder(
    path: &Path,
    config: &ClipTextConfig,
    device: &Device,
) -> Result<ClipTextModel, adt_clip::ClipError> {
    ClipTextModel::from_single_file(path, config, SDXL_TEXT_ENCODER_SINGLE_FILE_REMAP, device)
}
