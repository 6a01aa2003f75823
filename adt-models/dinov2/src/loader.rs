//! Loading DINOv2 checkpoints in both layouts users have.
//!
//! **transformers** (`facebook/dinov2-*`, `facebook/dinov2-with-registers-*`, a
//! local `save_pretrained` folder): `config.json` + `model.safetensors`. Module
//! paths equal the checkpoint keys; the only remap inserts burn's enum-variant
//! name of the FFN (`mlp.fc1` → `mlp.Mlp.fc1`, `mlp.weights_in` →
//! `mlp.SwiGlu.weights_in`) and drops the `dinov2.` prefix that the
//! `*ForImageClassification` checkpoints carry (their `classifier.*` is ignored).
//!
//! **original** (facebookresearch/dinov2 `DinoVisionTransformer` state dict, as
//! safetensors): converted to transformers names by [`ORIGINAL_KEY_TABLE`], plus
//! one transformation no rename can express — the fused `blocks.N.attn.qkv`
//! (`[3D, D]`, rows ordered q, k, v as upstream's `reshape(B, N, 3, H, Dh)` reads
//! them) is split into `query`, `key`, `value`. The architecture comes from a
//! published variant name or a `dinov2_vit.json` of `DinoVisionTransformer`
//! kwargs. (`.pth` pickles are not read: convert them with
//! `safetensors.torch.save_file(torch.load(p), out)`.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adt_models_common::{
    LoadOptions, ModelSource, load_safetensors_with, load_tensor_map, read_config, tensor_io,
};
use burn::prelude::*;
use regex::Regex;

use crate::config::{HfDinov2Config, OriginalVitConfig};
use crate::{Dinov2Error, Dinov2Model};

/// transformers checkpoint key → module path.
pub const TRANSFORMERS_REMAP: [(&str, &str); 3] = [
    (r"^(dinov2|dinov2_with_registers)\.", ""),
    (
        r"^(encoder\.layer\.\d+\.mlp)\.(fc1|fc2)\.",
        "${1}.Mlp.${2}.",
    ),
    (
        r"^(encoder\.layer\.\d+\.mlp)\.(weights_in|weights_out)\.",
        "${1}.SwiGlu.${2}.",
    ),
];

/// Checkpoint keys a transformers model folder may hold that the backbone does
/// not use (the classification head).
const TRANSFORMERS_IGNORED: [&str; 1] = [r"^classifier\."];

/// Original key → transformers key, applied in order (first match wins). The
/// `attn.qkv` split is done separately (see the module docs).
pub const ORIGINAL_KEY_TABLE: [(&str, &str); 13] = [
    (r"^cls_token$", "embeddings.cls_token"),
    (r"^mask_token$", "embeddings.mask_token"),
    (r"^pos_embed$", "embeddings.position_embeddings"),
    (r"^register_tokens$", "embeddings.register_tokens"),
    (
        r"^patch_embed\.proj\.",
        "embeddings.patch_embeddings.projection.",
    ),
    (r"^norm\.", "layernorm."),
    // `block_chunks > 0` checkpoints nest blocks as `blocks.<chunk>.<i>.`
    (
        r"^blocks\.(\d+\.)?(\d+)\.norm([12])\.",
        "encoder.layer.${2}.norm${3}.",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.attn\.proj\.",
        "encoder.layer.${2}.attention.output.dense.",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.ls([12])\.gamma$",
        "encoder.layer.${2}.layer_scale${3}.lambda1",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.mlp\.fc([12])\.",
        "encoder.layer.${2}.mlp.fc${3}.",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.mlp\.w12\.",
        "encoder.layer.${2}.mlp.weights_in.",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.mlp\.w3\.",
        "encoder.layer.${2}.mlp.weights_out.",
    ),
    (
        r"^blocks\.(\d+\.)?(\d+)\.attn\.qkv\.",
        "encoder.layer.${2}.attention.attention.qkv.",
    ),
];

impl Dinov2Model {
    /// Load from a folder or hub repository: a transformers layout when it holds
    /// `config.json`, else an original layout with `dinov2_vit.json` +
    /// `model.safetensors`.
    pub fn from_pretrained(source: &ModelSource, device: &Device) -> Result<Self, Dinov2Error> {
        match source.file("config.json") {
            Ok(config) => {
                Self::from_transformers_files(&config, &source.file("model.safetensors")?, device)
            }
            Err(first) => match source.file("dinov2_vit.json") {
                Ok(kwargs) => {
                    let config: OriginalVitConfig = read_config(&kwargs)?;
                    Self::from_original(
                        &source.file("model.safetensors")?,
                        &config,
                        &kwargs,
                        device,
                    )
                }
                Err(_) => Err(first.into()),
            },
        }
    }

    /// Load a transformers checkpoint: `config.json` + `model.safetensors`.
    pub fn from_transformers_files(
        config_path: &Path,
        weights: &Path,
        device: &Device,
    ) -> Result<Self, Dinov2Error> {
        let hf: HfDinov2Config = read_config(config_path)?;
        let config = hf.to_config(config_path)?;
        let model = Dinov2Model::new(&config, device);
        let opts = LoadOptions {
            remap: &TRANSFORMERS_REMAP,
            ignore_unused: &TRANSFORMERS_IGNORED,
            allow_missing: false,
        };
        Ok(load_safetensors_with(
            model,
            &[weights.to_path_buf()],
            &opts,
        )?)
    }

    /// Load an original-layout safetensors checkpoint of a published variant
    /// (`dinov2_vits14`, `dinov2_vitb14_reg`, ...).
    pub fn from_original_variant(
        weights: &Path,
        variant: &str,
        device: &Device,
    ) -> Result<Self, Dinov2Error> {
        let config = OriginalVitConfig::preset(variant)?;
        Self::from_original(weights, &config, Path::new(variant), device)
    }

    /// Load an original-layout safetensors checkpoint with explicit kwargs;
    /// `config_origin` names the config in errors.
    pub fn from_original(
        weights: &Path,
        kwargs: &OriginalVitConfig,
        config_origin: &Path,
        device: &Device,
    ) -> Result<Self, Dinov2Error> {
        if weights.extension().is_some_and(|e| e == "pth" || e == "pt") {
            return Err(Dinov2Error::Checkpoint {
                path: weights.to_path_buf(),
                message: "PyTorch pickles are not read; convert with \
                          `safetensors.torch.save_file(torch.load(path), \"model.safetensors\")`"
                    .into(),
            });
        }
        let config = kwargs.to_config(config_origin)?;
        let tensors = tensor_io::read_tensors(weights)?;
        let converted = original_to_transformers(weights, tensors, config.hidden_size)?;
        let model = Dinov2Model::new(&config, device);
        let opts = LoadOptions {
            remap: &TRANSFORMERS_REMAP,
            ignore_unused: &[],
            allow_missing: false,
        };
        Ok(load_tensor_map(model, &converted, weights, &opts)?)
    }
}

/// Rename original keys to transformers keys and split the fused `qkv`. Keys no
/// rule matches pass through unchanged, so the strict loader reports them by
/// their original name.
pub fn original_to_transformers(
    path: &Path,
    tensors: BTreeMap<String, TensorData>,
    hidden: usize,
) -> Result<BTreeMap<String, TensorData>, Dinov2Error> {
    let table: Vec<(Regex, &str)> = ORIGINAL_KEY_TABLE
        .iter()
        .map(|(p, r)| (Regex::new(p).expect("static pattern"), *r))
        .collect();
    let mut out = BTreeMap::new();
    for (key, data) in tensors {
        let renamed = table
            .iter()
            .find(|(re, _)| re.is_match(&key))
            .map(|(re, r)| re.replace(&key, *r).into_owned())
            .unwrap_or_else(|| key.clone());
        match renamed
            .strip_suffix("qkv.weight")
            .or_else(|| renamed.strip_suffix("qkv.bias"))
        {
            Some(prefix) if renamed.contains(".attention.attention.qkv.") => {
                let suffix = if renamed.ends_with("weight") {
                    "weight"
                } else {
                    "bias"
                };
                for (name, part) in ["query", "key", "value"]
                    .iter()
                    .zip(split_qkv(path, &key, &data, hidden)?)
                {
                    out.insert(format!("{prefix}{name}.{suffix}"), part);
                }
            }
            _ => {
                out.insert(renamed, data);
            }
        }
    }
    Ok(out)
}

/// Split a fused `[3D, D]` weight or `[3D]` bias into its q, k, v rows.
fn split_qkv(
    path: &Path,
    key: &str,
    data: &TensorData,
    hidden: usize,
) -> Result<Vec<TensorData>, Dinov2Error> {
    let shape = data.shape().clone();
    let err = || Dinov2Error::Checkpoint {
        path: PathBuf::from(path),
        message: format!(
            "`{key}` has shape {shape:?}, expected [{}, {hidden}] or [{}]",
            3 * hidden,
            3 * hidden
        ),
    };
    if shape.first() != Some(&(3 * hidden))
        || shape.len() > 2
        || (shape.len() == 2 && shape[1] != hidden)
    {
        return Err(err());
    }
    let values: Vec<f32> = data.try_to_vec::<f32>().map_err(|_| err())?;
    let per = values.len() / 3;
    let part_shape: Vec<usize> = std::iter::once(hidden)
        .chain(shape.iter().skip(1).copied())
        .collect();
    Ok((0..3)
        .map(|i| TensorData::new(values[i * per..(i + 1) * per].to_vec(), part_shape.clone()))
        .collect())
}
