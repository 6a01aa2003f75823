//! Strict safetensors loading into burn modules, and export back to PyTorch names.
//!
//! burn-store does the tensor plumbing (lazy reads, the PyTorch adapter that
//! transposes `Linear` weights and renames norm `weight/bias` to
//! `gamma/beta`); this layer adds what a model zoo needs on top: several files
//! per model, a declarative key-remap table, upcasting of f16/bf16 checkpoints
//! to f32, and *strictness* — a missing, unused or mis-shaped key is an error
//! that names the file and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, FloatCastAdapter, KeyRemapper, ModuleAdapter,
    ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::{DType, TensorData};
use regex::Regex;

use crate::LoadError;
use crate::error::list_names;
use crate::tensor_io::{to_safetensors_bytes, write_atomic};

/// How strictly, and under which names, a checkpoint is applied to a module.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// `(regex on the checkpoint key, replacement)` pairs, applied in order,
    /// turning checkpoint names into module paths.
    pub remap: &'a [(&'a str, &'a str)],
    /// Regexes of checkpoint keys the port deliberately does not use (e.g.
    /// constant buffers such as `position_ids`); all others must be used.
    pub ignore_unused: &'a [&'a str],
    /// Accept module parameters absent from the checkpoint (loading a part).
    pub allow_missing: bool,
}

/// Load `files` (e.g. the shards of one model) into `module`, strictly.
pub fn load_safetensors<M: Module>(
    module: M,
    files: &[PathBuf],
    remap: &[(&str, &str)],
) -> Result<M, LoadError> {
    load_safetensors_with(
        module,
        files,
        &LoadOptions {
            remap,
            ..Default::default()
        },
    )
}

/// [`load_safetensors`] with explicit [`LoadOptions`].
pub fn load_safetensors_with<M: Module>(
    module: M,
    files: &[PathBuf],
    opts: &LoadOptions<'_>,
) -> Result<M, LoadError> {
    for f in files {
        if !f.is_file() {
            return Err(LoadError::Missing { path: f.clone() });
        }
        check_header(f)?;
    }
    let stores = files
        .iter()
        .map(|f| Ok((f.clone(), SafetensorsStore::from_file(f))))
        .collect::<Result<Vec<_>, LoadError>>()?;
    apply_stores(module, stores, opts)
}

/// Load from tensors already in memory — for checkpoints that need a
/// transformation no rename can express (a fused `qkv` split into three, a
/// 1×1 conv reshaped to a linear). `origin` names the source file in errors.
pub fn load_tensor_map<M: Module>(
    module: M,
    tensors: &BTreeMap<String, TensorData>,
    origin: &Path,
    opts: &LoadOptions<'_>,
) -> Result<M, LoadError> {
    let bytes = to_safetensors_bytes(origin, tensors)?;
    let store = SafetensorsStore::from_bytes(Some(bytes));
    apply_stores(module, vec![(origin.to_path_buf(), store)], opts)
}

/// Save `module` under PyTorch naming (`Linear` weights transposed back,
/// norms as `weight/bias`), with `remap` turning module paths into checkpoint
/// keys. Written atomically: a crash never leaves a truncated file behind.
pub fn save_safetensors<M: Module>(
    module: &M,
    path: &Path,
    remap: &[(&str, &str)],
) -> Result<(), LoadError> {
    let mut store = SafetensorsStore::from_bytes(None)
        .remap(remapper(remap)?)
        .with_to_adapter(BurnToPyTorchAdapter);
    module
        .save_into(&mut store)
        .map_err(|e| LoadError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let bytes = store.get_bytes().map_err(|e| LoadError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &canonical_header(&bytes, path)?)
}

/// burn-store writes `__metadata__` from a `HashMap`, so the same weights gave different
/// bytes from run to run. Rewrite the header with sorted keys (serde_json's map is ordered),
/// padded with spaces to 8 bytes as the format allows: identical weights → identical files.
fn canonical_header(bytes: &[u8], path: &Path) -> Result<Vec<u8>, LoadError> {
    let bad = |message: &str| LoadError::Safetensors {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let n = u64::from_le_bytes(
        bytes
            .get(..8)
            .ok_or_else(|| bad("written file shorter than its header"))?
            .try_into()
            .expect("8 bytes"),
    ) as usize;
    let header = bytes
        .get(8..8 + n)
        .ok_or_else(|| bad("header length past the end"))?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(&format!("header: {e}")))?;
    let mut text = serde_json::to_string(&value).expect("JSON value serializes");
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// One key through a remap table, as [`save_safetensors`] renames it (every pattern in order).
pub fn remap_key(key: &str, remap: &[(&str, &str)]) -> Result<String, LoadError> {
    let mut key = key.to_string();
    for (re, to) in remapper(remap)?.to_regex_pairs() {
        key = re.replace_all(&key, to.as_str()).into_owned();
    }
    Ok(key)
}

fn remapper(pairs: &[(&str, &str)]) -> Result<KeyRemapper, LoadError> {
    let mut r = KeyRemapper::new();
    for (from, to) in pairs {
        r = r.add_pattern(*from, *to).map_err(|e| LoadError::Remap {
            pattern: from.to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(r)
}

/// Parse the header up front so a corrupt file fails with its name, before
/// burn-store turns it into a generic message.
fn check_header(path: &Path) -> Result<(), LoadError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| LoadError::io(path, e))?;
    let len = f.metadata().map_err(|e| LoadError::io(path, e))?.len();
    let mut n = [0u8; 8];
    let bad = |message: String| LoadError::Safetensors {
        path: path.to_path_buf(),
        message,
    };
    f.read_exact(&mut n)
        .map_err(|_| bad("file is shorter than a safetensors header".into()))?;
    let header_len = u64::from_le_bytes(n);
    if header_len > len.saturating_sub(8) || header_len > 100_000_000 {
        return Err(bad(format!(
            "header length {header_len} exceeds the file size {len}"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header)
        .map_err(|e| bad(format!("truncated header: {e}")))?;
    serde_json::from_slice::<serde_json::Value>(&header)
        .map(|_| ())
        .map_err(|e| bad(format!("header is not valid JSON: {e}")))
}

fn apply_stores<M: Module>(
    mut module: M,
    stores: Vec<(PathBuf, SafetensorsStore)>,
    opts: &LoadOptions<'_>,
) -> Result<M, LoadError> {
    let ignore = opts
        .ignore_unused
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| LoadError::Remap {
                pattern: p.to_string(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let files = stores
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut applied = BTreeSet::new();
    let mut missing: Option<BTreeSet<String>> = None;
    let mut unused = Vec::new();
    for (path, store) in stores {
        let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
        let mut store = store
            .remap(remapper(opts.remap)?)
            .with_from_adapter(adapter)
            .allow_partial(true)
            .validate(false);
        let result: ApplyResult =
            module
                .load_from(&mut store)
                .map_err(|e| LoadError::Safetensors {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        if let Some(err) = result.errors.first() {
            return Err(apply_error(&path, err));
        }
        applied.extend(result.applied.iter().cloned());
        let here: BTreeSet<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
        missing = Some(match missing {
            None => here,
            Some(prev) => prev.intersection(&here).cloned().collect(),
        });
        unused.extend(
            result
                .unused
                .into_iter()
                .filter(|k| !ignore.iter().any(|r| r.is_match(k))),
        );
    }
    let missing: Vec<String> = missing
        .unwrap_or_default()
        .into_iter()
        .filter(|k| !applied.contains(k))
        .collect();
    if !missing.is_empty() && !opts.allow_missing {
        return Err(LoadError::MissingKeys {
            files,
            count: missing.len(),
            keys: list_names(&missing),
        });
    }
    if !unused.is_empty() {
        unused.sort();
        return Err(LoadError::UnusedKeys {
            files,
            count: unused.len(),
            keys: list_names(&unused),
        });
    }
    Ok(module)
}

fn apply_error(path: &Path, err: &ApplyError) -> LoadError {
    match err {
        ApplyError::ShapeMismatch {
            path: key,
            expected,
            found,
        } => LoadError::Shape {
            path: path.to_path_buf(),
            key: key.clone(),
            expected: expected.to_vec(),
            found: found.to_vec(),
        },
        ApplyError::DTypeMismatch { path: key, .. }
        | ApplyError::AdapterError { path: key, .. }
        | ApplyError::LoadError { path: key, .. } => LoadError::Tensor {
            path: path.to_path_buf(),
            key: key.clone(),
            message: err.to_string(),
        },
    }
}
