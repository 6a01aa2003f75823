//! Loading pytorch-fid's FID weights (`pt_inception-2015-12-05-6726825d.pth`,
//! a `torch.save(state_dict)` of `fid_inception_v3()`), or the same state dict
//! as safetensors.
//!
//! Checkpoint keys are torchvision's `Inception3` names: `Conv2d_1a_3x3.conv.weight`,
//! `Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var}`,
//! `Mixed_5b.branch1x1.conv.weight`, …, `Mixed_7c.branch_pool.bn.running_var`,
//! plus `fc.{weight,bias}` (the 1008-way classifier, unused by FID) and, in files
//! written by torch ≥ 0.4.1, `*.bn.num_batches_tracked`. Below the top level the
//! module tree has upstream's names; [`KEY_REMAP`] only lower-cases the top-level
//! `Conv2d_*` / `Mixed_*` (Rust field names), and burn-store's PyTorch adapter maps
//! batch-norm `weight/bias` to burn's `gamma/beta`.
//!
//! Loading is strict: every parameter must come from the file with its exact
//! shape, and every file tensor must be used except [`EXPECTED_EXTRAS`]. The
//! store itself runs with `allow_partial(true)` only to get burn-store's
//! structured `ApplyResult` (its non-partial mode fails with a formatted table);
//! this module then turns missing keys, unexpected keys and shape mismatches into
//! [`LoadError`]s that name the file and the key in pytorch-fid's spelling.
//!
//! `.pth` goes through burn-store's `PytorchStore` (crate `pytorch-reader`), which
//! reads every container `torch.save` has written: zip (torch ≥ 1.6), the legacy
//! pickle stream (torch 0.1.10 – 1.5, i.e. `_use_new_zipfile_serialization=False`)
//! and tar (older). Both the zip and the legacy form of a full state dict were
//! checked by hand to give the same features (`tests/parity.rs`, the ignored test),
//! and `tests/errors.rs` reads small files of both forms in CI.

use std::path::Path;

use adt_models_common::LoadError;
use burn::module::Module;
use burn::prelude::*;
use burn::store::{
    ApplyError, ApplyResult, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::DType;

use crate::{InceptionError, InceptionV3Fid};

/// pytorch-fid / torchvision checkpoint key → module path (regex, replacement),
/// applied in order.
pub const KEY_REMAP: [(&str, &str); 2] = [
    // Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3
    (r"^Conv2d_(\d[a-z]_\dx\d)\.", "conv2d_${1}."),
    // Mixed_5b … Mixed_7c
    (r"^Mixed_(\d[a-z])\.", "mixed_${1}."),
];

/// Checkpoint tensors FID does not use, skipped without error: the 1008-way
/// classifier and the batch-norm step counters (`prefix*` / `*suffix` patterns).
pub const EXPECTED_EXTRAS: [&str; 2] = ["fc.*", "*.num_batches_tracked"];

impl InceptionV3Fid {
    /// Load by extension: `.safetensors` with [`Self::from_safetensors`],
    /// anything else (`.pth`, `.pt`) with [`Self::from_pth`].
    pub fn load(path: &Path, device: &Device) -> Result<Self, InceptionError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("safetensors") => {
                Self::from_safetensors(path, device)
            }
            _ => Self::from_pth(path, device),
        }
    }

    /// Load pytorch-fid's `.pth` (`torch.save(state_dict)`, any container).
    pub fn from_pth(path: &Path, device: &Device) -> Result<Self, InceptionError> {
        exists(path)?;
        let mut store = PytorchStore::from_file(path)
            .remap(remapper()?)
            .allow_partial(true)
            .validate(false);
        let pth = |e: burn::store::PytorchStoreError| InceptionError::Pth {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // The PyTorch store keeps each tensor's dtype: refuse non-f32 floats up front.
        for (key, t) in store.get_all_tensors().map_err(pth)? {
            if t.dtype.is_float() && t.dtype != DType::F32 && !is_expected_extra(key) {
                return Err(InceptionError::DType {
                    path: path.to_path_buf(),
                    key: checkpoint_key(key),
                    dtype: format!("{:?}", t.dtype),
                });
            }
        }
        let mut model = Self::new(device);
        let result = model.load_from(&mut store).map_err(pth)?;
        strict(path, result)?;
        Ok(model.freeze())
    }

    /// Load the same state dict saved as safetensors (any float width; upcast
    /// to f32), e.g. `safetensors.torch.save_file(torch.load(pth), out)`.
    pub fn from_safetensors(path: &Path, device: &Device) -> Result<Self, InceptionError> {
        exists(path)?;
        let mut store = SafetensorsStore::from_file(path)
            .remap(remapper()?)
            .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32)))
            .allow_partial(true)
            .validate(false);
        let mut model = Self::new(device);
        let result = model
            .load_from(&mut store)
            .map_err(|e| LoadError::Safetensors {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        strict(path, result)?;
        Ok(model.freeze())
    }
}

/// Module path (or remapped file key) → the key as pytorch-fid's state dict
/// spells it, for error messages.
pub fn checkpoint_key(path: &str) -> String {
    let mut key = if let Some(rest) = path.strip_prefix("conv2d_") {
        format!("Conv2d_{rest}")
    } else if let Some(rest) = path.strip_prefix("mixed_") {
        format!("Mixed_{rest}")
    } else {
        path.to_string()
    };
    for (burn, torch) in [(".bn.gamma", ".bn.weight"), (".bn.beta", ".bn.bias")] {
        if let Some(stem) = key.strip_suffix(burn) {
            key = format!("{stem}{torch}");
        }
    }
    key
}

fn is_expected_extra(key: &str) -> bool {
    EXPECTED_EXTRAS
        .iter()
        .any(|p| match (p.strip_suffix('*'), p.strip_prefix('*')) {
            (Some(prefix), _) => key.starts_with(prefix),
            (_, Some(suffix)) => key.ends_with(suffix),
            _ => key == *p,
        })
}

fn exists(path: &Path) -> Result<(), LoadError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(LoadError::Missing {
            path: path.to_path_buf(),
        })
    }
}

fn remapper() -> Result<KeyRemapper, LoadError> {
    KEY_REMAP
        .iter()
        .try_fold(KeyRemapper::new(), |r, (from, to)| {
            r.add_pattern(*from, *to).map_err(|e| LoadError::Remap {
                pattern: from.to_string(),
                message: e.to_string(),
            })
        })
}

/// Turn burn-store's report into the strict outcome: a shape/tensor error, then
/// missing parameters, then unexpected file tensors (beyond [`EXPECTED_EXTRAS`]).
fn strict(path: &Path, result: ApplyResult) -> Result<(), LoadError> {
    let file = || path.to_path_buf();
    if let Some(err) = result.errors.first() {
        return Err(match err {
            ApplyError::ShapeMismatch {
                path: key,
                expected,
                found,
            } => LoadError::Shape {
                path: file(),
                key: checkpoint_key(key),
                expected: expected.to_vec(),
                found: found.to_vec(),
            },
            ApplyError::DTypeMismatch { path: key, .. }
            | ApplyError::AdapterError { path: key, .. }
            | ApplyError::LoadError { path: key, .. } => LoadError::Tensor {
                path: file(),
                key: checkpoint_key(key),
                message: err.to_string(),
            },
        });
    }
    let missing: Vec<String> = result
        .missing
        .iter()
        .map(|(p, _)| checkpoint_key(p))
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::MissingKeys {
            files: path.display().to_string(),
            count: missing.len(),
            keys: list_names(&missing),
        });
    }
    let mut unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| !is_expected_extra(k))
        .map(|k| checkpoint_key(k))
        .collect();
    if !unused.is_empty() {
        unused.sort();
        return Err(LoadError::UnusedKeys {
            files: path.display().to_string(),
            count: unused.len(),
            keys: list_names(&unused),
        });
    }
    Ok(())
}

/// The first names of a long list, and how many more.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", … and {} more", names.len() - SHOWN));
    }
    s
}
