//! Loading from diffusers folders and original single files, and export to diffusers.

use std::path::{Path, PathBuf};

use adt_models_common::{
    LoadError, LoadOptions, ModelSource, load_safetensors_with, load_tensor_map, read_config,
    save_safetensors,
};
use burn::prelude::*;
use serde::Serialize;

use crate::keys::{
    as_pairs, projection_export_remap, projection_remap, unet_ldm_remap, vae_ldm_remap,
};
use crate::mmdit::{Sd3Transformer2DModel, Sd3TransformerConfig, original_keys};
use crate::single_file;
use crate::unet::{UNet2DConditionConfig, UNet2DConditionModel};
use crate::vae::{AutoencoderKL, AutoencoderKLConfig};

/// diffusers' weight file name.
pub const WEIGHTS_NAME: &str = "diffusion_pytorch_model.safetensors";
/// The `fp16` variant's weight file name (upcast to f32 on load).
pub const WEIGHTS_NAME_FP16: &str = "diffusion_pytorch_model.fp16.safetensors";

/// The weight file(s) of a diffusers sub-model: the full-precision file, else the fp16
/// variant, else the shards listed by a `*.index.json`.
pub fn weight_files(source: &ModelSource, subfolder: &str) -> Result<Vec<PathBuf>, LoadError> {
    source.weight_files(subfolder, "diffusion_pytorch_model")
}

fn write_config<C: Serialize>(dir: &Path, class_name: &str, config: &C) -> Result<(), LoadError> {
    let path = dir.join("config.json");
    let mut value = serde_json::to_value(config).map_err(|e| LoadError::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if let Some(map) = value.as_object_mut() {
        map.insert("_class_name".into(), class_name.into());
        map.insert("_diffusers_version".into(), "0.37.1".into());
    }
    let text = serde_json::to_string_pretty(&value).expect("a JSON value serialises");
    std::fs::write(&path, text + "\n").map_err(|e| LoadError::Io { path, source: e })
}

fn create_dir(dir: &Path) -> Result<(), LoadError> {
    std::fs::create_dir_all(dir).map_err(|e| LoadError::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}

/// Ignore every single-file entry outside `keep_prefix` (text encoder, VAE/UNet, schedule
/// buffers, EMA copies): one regex per top-level name found in the header.
fn foreign_key_patterns(path: &Path, keep_top: &str) -> Result<Vec<String>, LoadError> {
    let tops: std::collections::BTreeSet<String> = single_file::keys(path)?
        .into_iter()
        .map(|k| k.split('.').next().unwrap_or_default().to_string())
        .filter(|top| top != keep_top)
        .collect();
    Ok(tops
        .into_iter()
        .map(|t| format!(r"^{}(\.|$)", regex_escape(&t)))
        .collect())
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

impl UNet2DConditionModel {
    /// Load `<subfolder>/config.json` and the weights of a diffusers folder or hub repo
    /// (`diffusion_pytorch_model.safetensors`, its `.fp16` variant, or shards), upcast to f32.
    pub fn from_pretrained(
        source: &ModelSource,
        subfolder: &str,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let config_path = source.file_in(subfolder, "config.json")?;
        let config: UNet2DConditionConfig = read_config(&config_path)?;
        let model = Self::new(&config, device).map_err(|e| e.in_file(&config_path))?;
        model.load_diffusers_weights(&weight_files(source, subfolder)?)
    }

    /// Load diffusers-layout weights into this (already configured) model, strictly:
    /// missing, unused or mis-shaped keys are errors naming the file and key.
    pub fn load_diffusers_weights(self, files: &[PathBuf]) -> Result<Self, LoadError> {
        let remap = projection_remap(self.config().use_linear_projection);
        load_safetensors_with(
            self,
            files,
            &LoadOptions {
                remap: &as_pairs(&remap),
                ..Default::default()
            },
        )
    }

    /// Load the UNet out of an original-layout single file (`model.diffusion_model.*`),
    /// ignoring its other parts. The file carries no config: pass the matching one
    /// (e.g. the `unet/config.json` of the diffusers release of the same model).
    pub fn from_single_file(
        path: &Path,
        config: &UNet2DConditionConfig,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let resolved = config.validate().map_err(|e| LoadError::Config {
            path: path.to_path_buf(),
            message: format!("UNet config for this single file: {e}"),
        })?;
        let model = Self::new(config, device).map_err(|e| LoadError::Config {
            path: path.to_path_buf(),
            message: e.0,
        })?;
        let remap = unet_ldm_remap(config, &resolved.layers_per_block, &resolved.up);
        let ignore = foreign_key_patterns(path, "model")?;
        let ignore: Vec<&str> = ignore.iter().map(String::as_str).collect();
        load_safetensors_with(
            model,
            &[path.to_path_buf()],
            &LoadOptions {
                remap: &as_pairs(&remap),
                ignore_unused: &ignore,
                allow_missing: false,
            },
        )
    }

    /// Write `dir/config.json` and `dir/diffusion_pytorch_model.safetensors` (in the
    /// parameters' dtype: f32 as trained, f16/bf16 after a cast) in
    /// diffusers' layout, loadable by diffusers' `from_pretrained` and by [`Self::from_pretrained`].
    pub fn save_pretrained(&self, dir: &Path) -> Result<(), LoadError> {
        create_dir(dir)?;
        write_config(dir, "UNet2DConditionModel", self.config())?;
        save_safetensors(
            self,
            &dir.join(WEIGHTS_NAME),
            &as_pairs(&projection_export_remap()),
        )
    }
}

impl AutoencoderKL {
    /// Load `<subfolder>/config.json` and the weights of a diffusers folder or hub repo.
    pub fn from_pretrained(
        source: &ModelSource,
        subfolder: &str,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let config_path = source.file_in(subfolder, "config.json")?;
        let config: AutoencoderKLConfig = read_config(&config_path)?;
        let model = Self::new(&config, device).map_err(|e| e.in_file(&config_path))?;
        model.load_diffusers_weights(&weight_files(source, subfolder)?)
    }

    /// Load diffusers-layout weights into this model, strictly.
    pub fn load_diffusers_weights(self, files: &[PathBuf]) -> Result<Self, LoadError> {
        load_safetensors_with(self, files, &LoadOptions::default())
    }

    /// Load the VAE out of an original-layout single file (`first_stage_model.*`). Only the
    /// VAE's tensors are read; LDM's 1x1-conv attention projections become linear weights.
    pub fn from_single_file(
        path: &Path,
        config: &AutoencoderKLConfig,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let model = Self::new(config, device).map_err(|e| LoadError::Config {
            path: path.to_path_buf(),
            message: e.0,
        })?;
        let mut tensors = single_file::read_prefixed(path, "first_stage_model.")?;
        if tensors.is_empty() {
            return Err(LoadError::MissingKeys {
                files: path.display().to_string(),
                count: 1,
                keys: "first_stage_model.* (no VAE in this file)".into(),
            });
        }
        for (key, data) in tensors.iter_mut() {
            let is_attn_proj = key.contains(".mid.attn_1.")
                && ["q.weight", "k.weight", "v.weight", "proj_out.weight"]
                    .iter()
                    .any(|s| key.ends_with(&format!(".{s}")));
            let shape = data.shape().to_vec();
            if is_attn_proj && shape.len() > 2 {
                if shape[2..].iter().any(|&d| d != 1) {
                    return Err(LoadError::Tensor {
                        path: path.to_path_buf(),
                        key: key.clone(),
                        message: format!("expected a 1x1 conv weight, found shape {shape:?}"),
                    });
                }
                let (bytes, _, dtype) = data.clone().into_parts();
                *data = TensorData::from_bytes(bytes, [shape[0], shape[1]], dtype);
            }
        }
        let remap = vae_ldm_remap(config);
        load_tensor_map(
            model,
            &tensors,
            path,
            &LoadOptions {
                remap: &as_pairs(&remap),
                ..Default::default()
            },
        )
    }

    /// Write `dir/config.json` and `dir/diffusion_pytorch_model.safetensors` (diffusers layout).
    pub fn save_pretrained(&self, dir: &Path) -> Result<(), LoadError> {
        create_dir(dir)?;
        write_config(dir, "AutoencoderKL", self.config())?;
        save_safetensors(self, &dir.join(WEIGHTS_NAME), &[])
    }
}

/// The original SD3 single file keeps the MMDiT below this prefix.
pub const SD3_TRANSFORMER_PREFIX: &str = "model.diffusion_model.";

impl Sd3Transformer2DModel {
    /// Load `<subfolder>/config.json` and the weights of a diffusers folder or hub repo
    /// (`diffusion_pytorch_model.safetensors`, its `.fp16` variant, or shards), upcast to f32.
    pub fn from_pretrained(
        source: &ModelSource,
        subfolder: &str,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let config_path = source.file_in(subfolder, "config.json")?;
        let config: Sd3TransformerConfig = read_config(&config_path)?;
        let model = Self::new(&config, device).map_err(|e| e.in_file(&config_path))?;
        load_safetensors_with(
            model,
            &weight_files(source, subfolder)?,
            &LoadOptions::default(),
        )
    }

    /// Load the MMDiT out of an original (Stability) single file (`model.diffusion_model.*`,
    /// fused `qkv`; see [`original_keys`]), ignoring its other parts. The file carries no
    /// config: pass the matching one (the diffusers release's `transformer/config.json`).
    pub fn from_single_file(
        path: &Path,
        config: &Sd3TransformerConfig,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let model = Self::new(config, device).map_err(|e| LoadError::Config {
            path: path.to_path_buf(),
            message: format!("transformer config for this single file: {}", e.0),
        })?;
        let local = single_file::read_below(path, SD3_TRANSFORMER_PREFIX, "MMDiT")?;
        let tensors = adt_models_common::convert::convert(
            local,
            &original_keys(config),
            &[],
            path,
            SD3_TRANSFORMER_PREFIX,
        )?;
        load_tensor_map(model, &tensors, path, &LoadOptions::default())
    }

    /// Write `dir/config.json` and `dir/diffusion_pytorch_model.safetensors` (in the
    /// parameters' dtype: f32 as trained, f16/bf16 after a cast) in
    /// diffusers' layout, loadable by diffusers' `SD3Transformer2DModel.from_pretrained`.
    pub fn save_pretrained(&self, dir: &Path) -> Result<(), LoadError> {
        create_dir(dir)?;
        write_config(dir, "SD3Transformer2DModel", self.config())?;
        save_safetensors(self, &dir.join(WEIGHTS_NAME), &[])
    }
}
