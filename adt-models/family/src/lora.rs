//! LoRA files of a family's denoiser, in the two layouts other tools read:
//! - diffusers/PEFT (`pytorch_lora_weights.safetensors`, what `pipeline.load_lora_weights(dir)`
//!   loads): `unet.<module>.lora_A.weight` `[r, in]` and `.lora_B.weight` `[out, r]`, α in the
//!   header's `lora_adapter_metadata` JSON (`unet.lora_alpha`), as
//!   `save_lora_weights(..., unet_lora_adapter_metadata=...)` records it; without it diffusers
//!   takes α = r;
//! - kohya (`lora_unet_<module, dots as _>.lora_down.weight` / `.lora_up.weight` / `.alpha`),
//!   with diffusers' module names as kohya's sd-scripts writes SD1.x files, read by diffusers,
//!   A1111 and ComfyUI. UNet families only (SD3's kohya files use the original MMDiT names).
//!
//! Written from the engine's adapters ([`lora_layers`], [`write_lora`]) and merged into a
//! denoiser's weights for sampling ([`merge_lora`]: `W += s·(α/r)·B·A`, diffusers'
//! `cross_attention_kwargs={"scale": s}` / `fuse_lora(lora_scale=s)`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use adt_models_common::LoadError;
use adt_models_common::tensor_io::{read_metadata, read_tensors, write_tensors_with_metadata};
use adt_plugin::lora::AdapterWeights;
use burn::module::{ModuleMapper, Param};
use burn::prelude::*;

use crate::adapters::ComponentDenoiser;
use crate::error::{FamilyError, Result};

/// The file name diffusers' `load_lora_weights(dir)` looks for.
pub const PEFT_FILE: &str = "pytorch_lora_weights.safetensors";

/// diffusers' safetensors header key holding the adapter config (`LORA_ADAPTER_METADATA_KEY`).
const METADATA_KEY: &str = "lora_adapter_metadata";

/// A LoRA file layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoraFormat {
    /// diffusers/PEFT: `<component>.<module>.lora_A.weight` / `.lora_B.weight`.
    Peft,
    /// kohya/A1111: `lora_unet_<module>.lora_down.weight` / `.lora_up.weight` / `.alpha`.
    Kohya,
}

impl std::str::FromStr for LoraFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "peft" | "diffusers" => Ok(Self::Peft),
            "kohya" => Ok(Self::Kohya),
            other => Err(format!(
                "unknown LoRA format `{other}`: expected `peft` (diffusers) or `kohya`"
            )),
        }
    }
}

/// One adapted layer in PyTorch's layout: `ΔW = (α/r)·up·down`, `ΔW` `[out, in]`.
#[derive(Clone, Debug)]
pub struct LoraLayer {
    /// `A` / `lora_down`, `[r, in]`.
    pub down: TensorData,
    /// `B` / `lora_up`, `[out, r]`.
    pub up: TensorData,
    /// α.
    pub alpha: f64,
}

impl LoraLayer {
    /// The rank r.
    pub fn rank(&self) -> usize {
        self.down.shape()[0]
    }
}

/// A LoRA file read by [`read_lora`]: its layers under the names the file gives them
/// (`unet.<module>` for PEFT, `lora_unet_<module>` for kohya).
#[derive(Clone, Debug)]
pub struct LoraFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its layout.
    pub format: LoraFormat,
    /// Layers by name.
    pub layers: BTreeMap<String, LoraLayer>,
}

fn lora_error(path: &Path, message: impl Into<String>) -> FamilyError {
    FamilyError::Lora {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn transpose(data: &TensorData) -> TensorData {
    Tensor::<2>::from_data(data.clone(), &Device::flex())
        .transpose()
        .into_data()
}

/// The engine's adapters of denoiser `D` (burn layout, module paths) as named LoRA layers
/// (PyTorch layout, `D`'s diffusers module names), all with `alpha`.
pub fn lora_layers<D: ComponentDenoiser>(
    adapters: &[AdapterWeights],
    alpha: f64,
) -> Result<BTreeMap<String, LoraLayer>> {
    let mut out = BTreeMap::new();
    for a in adapters {
        let module = D::diffusers_key(&a.weight)
            .and_then(|k| k.strip_suffix(".weight").map(str::to_string))
            .ok_or_else(|| {
                FamilyError::Request(format!(
                    "the adapter on {} is outside the {} (no diffusers name)",
                    a.weight,
                    D::SUBFOLDER
                ))
            })?;
        out.insert(
            module,
            LoraLayer {
                down: transpose(&a.a),
                up: transpose(&a.b),
                alpha,
            },
        );
    }
    Ok(out)
}

/// The name a layer of module `module` has in a `format` file of denoiser `D`.
fn file_name<D: ComponentDenoiser>(format: LoraFormat, module: &str) -> String {
    match format {
        LoraFormat::Peft => format!("{}.{module}", D::SUBFOLDER),
        LoraFormat::Kohya => format!("lora_{}_{}", D::SUBFOLDER, module.replace('.', "_")),
    }
}

/// Write `layers` (by diffusers module name, as [`lora_layers`] gives them) of denoiser `D`
/// to `path` in `format`.
pub fn write_lora<D: ComponentDenoiser>(
    layers: &BTreeMap<String, LoraLayer>,
    format: LoraFormat,
    path: &Path,
) -> Result<()> {
    if format == LoraFormat::Kohya && D::SUBFOLDER != "unet" {
        return Err(lora_error(
            path,
            format!(
                "the kohya layout is written for UNet families only (SD3's kohya files name \
                 the {} by the original MMDiT keys): use the PEFT layout",
                D::SUBFOLDER
            ),
        ));
    }
    let Some(first) = layers.values().next() else {
        return Err(lora_error(path, "no LoRA layers to write"));
    };
    let (rank, alpha) = (first.rank(), first.alpha);
    let mut tensors = BTreeMap::new();
    for (module, layer) in layers {
        let name = file_name::<D>(format, module);
        let (down, up) = match format {
            LoraFormat::Peft => ("lora_A.weight", "lora_B.weight"),
            LoraFormat::Kohya => ("lora_down.weight", "lora_up.weight"),
        };
        tensors.insert(format!("{name}.{down}"), layer.down.clone());
        tensors.insert(format!("{name}.{up}"), layer.up.clone());
        if format == LoraFormat::Kohya {
            tensors.insert(
                format!("{name}.alpha"),
                TensorData::new(vec![layer.alpha as f32], [0usize; 0]),
            );
        }
    }
    let metadata = match format {
        LoraFormat::Peft => {
            let c = D::SUBFOLDER;
            let ranks: BTreeMap<&String, usize> = layers
                .iter()
                .filter(|(_, l)| l.rank() != rank)
                .map(|(m, l)| (m, l.rank()))
                .collect();
            let alphas: BTreeMap<&String, f64> = layers
                .iter()
                .filter(|(_, l)| l.alpha != alpha)
                .map(|(m, l)| (m, l.alpha))
                .collect();
            // The fields of PEFT's `LoraConfig` that diffusers' `_create_lora_config` needs;
            // target_modules are the full module names, so PEFT matches exactly these.
            let config = serde_json::json!({
                format!("{c}.r"): rank,
                format!("{c}.lora_alpha"): alpha,
                format!("{c}.target_modules"): layers.keys().collect::<Vec<_>>(),
                format!("{c}.rank_pattern"): ranks,
                format!("{c}.alpha_pattern"): alphas,
                format!("{c}.peft_type"): "LORA",
            });
            Some(HashMap::from([
                ("format".to_string(), "pt".to_string()),
                (METADATA_KEY.to_string(), config.to_string()),
            ]))
        }
        LoraFormat::Kohya => None,
    };
    Ok(write_tensors_with_metadata(path, &tensors, metadata)?)
}

/// Read a LoRA file of denoiser `D` in either layout (told by its keys).
pub fn read_lora<D: ComponentDenoiser>(path: &Path) -> Result<LoraFile> {
    if !path.is_file() {
        return Err(LoadError::Missing {
            path: path.to_path_buf(),
        }
        .into());
    }
    let mut tensors = read_tensors(path)?;
    let has = |suffix: &str| tensors.keys().any(|k| k.ends_with(suffix));
    let format = if has(".lora_A.weight") {
        LoraFormat::Peft
    } else if has(".lora_down.weight") {
        LoraFormat::Kohya
    } else {
        let first: Vec<&String> = tensors.keys().take(3).collect();
        return Err(lora_error(
            path,
            format!(
                "not a LoRA file: no `*.lora_A.weight` (diffusers/PEFT) or `*.lora_down.weight` \
                 (kohya) keys; it holds {} tensors, e.g. {first:?}",
                tensors.len()
            ),
        ));
    };
    let (down_suffix, up_suffix) = match format {
        LoraFormat::Peft => (".lora_A.weight", ".lora_B.weight"),
        LoraFormat::Kohya => (".lora_down.weight", ".lora_up.weight"),
    };
    let metadata = match format {
        LoraFormat::Peft => peft_alphas::<D>(path)?,
        LoraFormat::Kohya => None,
    };
    let names: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(down_suffix).map(str::to_string))
        .collect();
    let mut layers = BTreeMap::new();
    for name in names {
        let down = tensors
            .remove(&format!("{name}{down_suffix}"))
            .expect("listed");
        let up = tensors
            .remove(&format!("{name}{up_suffix}"))
            .ok_or_else(|| {
                lora_error(
                    path,
                    format!("{name}{down_suffix} has no {name}{up_suffix}"),
                )
            })?;
        let (ds, us) = (down.shape().to_vec(), up.shape().to_vec());
        let one_by_one = |s: &[usize]| s.len() == 2 || (s.len() == 4 && s[2] == 1 && s[3] == 1);
        if !one_by_one(&ds) || !one_by_one(&us) || ds[0] == 0 || us[1] != ds[0] {
            return Err(lora_error(
                path,
                format!(
                    "{name}: factors {ds:?} (down) and {us:?} (up) are not a rank-r pair \
                     ([r, in] and [out, r], or 1×1-convolution [r, in, 1, 1] and [out, r, 1, 1], r ≥ 1)"
                ),
            ));
        }
        let rank = ds[0];
        let alpha = match format {
            LoraFormat::Kohya => match tensors.remove(&format!("{name}.alpha")) {
                Some(a) => a.iter::<f32>().next().map(f64::from).unwrap_or(rank as f64),
                None => rank as f64,
            },
            LoraFormat::Peft => match &metadata {
                Some(m) => m.alpha_of(
                    name.strip_prefix(&format!("{}.", D::SUBFOLDER))
                        .unwrap_or(&name),
                ),
                None => rank as f64,
            },
        };
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(lora_error(
                path,
                format!("{name}: alpha {alpha} is not a positive number"),
            ));
        }
        // 1×1-convolution factors (kohya's `proj_in`/`proj_out` of SD1.x) as matrices.
        let matrix = |t: TensorData, rows: usize, cols: usize| {
            let (bytes, _, dtype) = t.into_parts();
            TensorData::from_bytes(bytes, [rows, cols], dtype)
        };
        let (down, up) = (matrix(down, ds[0], ds[1]), matrix(up, us[0], us[1]));
        layers.insert(name, LoraLayer { down, up, alpha });
    }
    if !tensors.is_empty() {
        let left: Vec<&String> = tensors.keys().take(4).collect();
        return Err(lora_error(
            path,
            format!(
                "{} tensor(s) of kinds adt does not merge (only plain LoRA pairs: no DoRA, LoHa, \
                 LoKr or biases), e.g. {left:?}",
                tensors.len()
            ),
        ));
    }
    Ok(LoraFile {
        path: path.to_path_buf(),
        format,
        layers,
    })
}

/// α from a PEFT file's `lora_adapter_metadata` (`lora_alpha`, per-module `alpha_pattern`).
struct PeftAlphas {
    alpha: f64,
    pattern: BTreeMap<String, f64>,
}

impl PeftAlphas {
    fn alpha_of(&self, module: &str) -> f64 {
        self.pattern
            .iter()
            .find(|(k, _)| module == k.as_str() || module.ends_with(&format!(".{k}")))
            .map(|(_, a)| *a)
            .unwrap_or(self.alpha)
    }
}

fn peft_alphas<D: ComponentDenoiser>(path: &Path) -> Result<Option<PeftAlphas>> {
    let Some(meta) = read_metadata(path)? else {
        return Ok(None);
    };
    let Some(raw) = meta.get(METADATA_KEY) else {
        return Ok(None);
    };
    let bad = |m: String| lora_error(path, format!("header `{METADATA_KEY}`: {m}"));
    let json: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
    let c = D::SUBFOLDER;
    let Some(alpha) = json.get(format!("{c}.lora_alpha")) else {
        return Ok(None);
    };
    let alpha = alpha
        .as_f64()
        .ok_or_else(|| bad(format!("`{c}.lora_alpha` is not a number: {alpha}")))?;
    let mut pattern = BTreeMap::new();
    if let Some(p) = json
        .get(format!("{c}.alpha_pattern"))
        .and_then(|p| p.as_object())
    {
        for (k, v) in p {
            let v = v
                .as_f64()
                .ok_or_else(|| bad(format!("`{c}.alpha_pattern.{k}` is not a number")))?;
            pattern.insert(k.clone(), v);
        }
    }
    Ok(Some(PeftAlphas { alpha, pattern }))
}

struct Merge<'a, D> {
    file: &'a LoraFile,
    scale: f64,
    path: Vec<String>,
    merged: Vec<String>,
    error: Option<String>,
    _denoiser: std::marker::PhantomData<D>,
}

impl<D: ComponentDenoiser> ModuleMapper for Merge<'_, D> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const R: usize>(&mut self, param: Param<Tensor<R>>) -> Param<Tensor<R>> {
        if !(R == 2 || R == 4) || self.error.is_some() {
            return param;
        }
        let Some(module) = D::diffusers_key(&self.path.join("."))
            .and_then(|k| k.strip_suffix(".weight").map(str::to_string))
        else {
            return param;
        };
        let name = file_name::<D>(self.file.format, &module);
        let Some(layer) = self.file.layers.get(&name) else {
            return param;
        };
        let shape = param.lazy_shape();
        // burn keeps Linear weights as [in, out]; conv weights as torch's [out, in, k, k].
        let conv = R == 4;
        if conv && (shape[2] != 1 || shape[3] != 1) {
            self.error = Some(format!(
                "{name}: the layer {module} is a {}×{} convolution; only linear and 1×1 \
                 convolution layers are merged",
                shape[2], shape[3]
            ));
            return param;
        }
        let (d_in, d_out) = if conv {
            (shape[1], shape[0])
        } else {
            (shape[0], shape[1])
        };
        let (down, up) = (layer.down.shape(), layer.up.shape());
        let r = layer.rank();
        if down[1] != d_in || up[0] != d_out || up[1] != r {
            self.error = Some(format!(
                "{name}: lora_down {down:?} / lora_up {up:?} do not fit the layer {module} \
                 ({d_out} out, {d_in} in)"
            ));
            return param;
        }
        let factor = self.scale * layer.alpha / r as f64;
        self.merged.push(name);
        let (down, up) = (layer.down.clone(), layer.up.clone());
        param.map(move |w| {
            let device = w.device();
            let (down, up) = (
                Tensor::<2>::from_data(down, &device),
                Tensor::<2>::from_data(up, &device),
            );
            // ΔW [out, in] = up · down: transposed for a Linear, as is for a 1×1 conv.
            let delta = if conv {
                up.matmul(down)
            } else {
                down.transpose().matmul(up.transpose())
            };
            let delta: Tensor<R> = delta.mul_scalar(factor).reshape(w.shape());
            w + delta
        })
    }
}

/// Add `scale·(α/r)·up·down` of every layer of `file` to `denoiser`'s weights. Every layer
/// must land on a weight of the right shape; the error names the first that does not.
pub fn merge_lora<D: ComponentDenoiser>(denoiser: D, file: &LoraFile, scale: f64) -> Result<D> {
    if !scale.is_finite() {
        return Err(lora_error(
            &file.path,
            format!("LoRA scale {scale} is not finite"),
        ));
    }
    let mut m = Merge::<D> {
        file,
        scale,
        path: Vec::new(),
        merged: Vec::new(),
        error: None,
        _denoiser: std::marker::PhantomData,
    };
    let denoiser = denoiser.map(&mut m);
    if let Some(e) = m.error {
        return Err(lora_error(&file.path, e));
    }
    let unmatched: Vec<&String> = file
        .layers
        .keys()
        .filter(|k| !m.merged.contains(k))
        .collect();
    if !unmatched.is_empty() {
        let first: Vec<&&String> = unmatched.iter().take(3).collect();
        return Err(lora_error(
            &file.path,
            format!(
                "{} of {} LoRA layers match no linear weight of this {} (only the {} is \
                 adapted; text-encoder layers are not merged), e.g. {first:?}",
                unmatched.len(),
                file.layers.len(),
                D::SUBFOLDER,
                D::SUBFOLDER
            ),
        ));
    }
    Ok(denoiser)
}
