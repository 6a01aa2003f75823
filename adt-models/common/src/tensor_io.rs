//! Named-tensor files (safetensors) for fixtures and the `adt forward` harness.
//!
//! Floats of any width are read as f32 and integers as i64, the two dtypes the
//! models take; files are written atomically (temp file, then rename).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::tensor::{DType, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::LoadError;

/// Read every tensor of a safetensors file.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| LoadError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data = view_to_data(&view).map_err(|message| LoadError::Tensor {
            path: path.to_path_buf(),
            key: name.clone(),
            message,
        })?;
        out.insert(name, data);
    }
    Ok(out)
}

fn view_to_data(view: &TensorView<'_>) -> Result<TensorData, String> {
    let shape = view.shape().to_vec();
    let b = view.data();
    let f32s = |v: Vec<f32>| Ok(TensorData::new(v, shape.clone()));
    let i64s = |v: Vec<i64>| Ok(TensorData::new(v, shape.clone()));
    match view.dtype() {
        Dtype::F32 => f32s(chunks::<4>(b).map(f32::from_le_bytes).collect()),
        Dtype::F64 => f32s(
            chunks::<8>(b)
                .map(|c| f64::from_le_bytes(c) as f32)
                .collect(),
        ),
        Dtype::F16 => f32s(
            chunks::<2>(b)
                .map(|c| half::f16::from_le_bytes(c).to_f32())
                .collect(),
        ),
        Dtype::BF16 => f32s(
            chunks::<2>(b)
                .map(|c| half::bf16::from_le_bytes(c).to_f32())
                .collect(),
        ),
        Dtype::I64 => i64s(chunks::<8>(b).map(i64::from_le_bytes).collect()),
        Dtype::I32 => i64s(
            chunks::<4>(b)
                .map(|c| i32::from_le_bytes(c) as i64)
                .collect(),
        ),
        Dtype::U8 => i64s(b.iter().map(|&x| x as i64).collect()),
        Dtype::BOOL => i64s(b.iter().map(|&x| (x != 0) as i64).collect()),
        other => Err(format!("unsupported dtype {other:?}")),
    }
}

fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N)
        .map(|c| c.try_into().expect("exact chunk"))
}

/// The header's `__metadata__` strings of a safetensors file (`None` when it has none).
pub fn read_metadata(path: &Path) -> Result<Option<HashMap<String, String>>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| LoadError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(meta.metadata().clone())
}

/// Write tensors into a safetensors file: f16 and bf16 as stored, other floats as f32,
/// integers as i64.
pub fn write_tensors(path: &Path, tensors: &BTreeMap<String, TensorData>) -> Result<(), LoadError> {
    write_tensors_with_metadata(path, tensors, None)
}

/// [`write_tensors`] with header `__metadata__` strings.
pub fn write_tensors_with_metadata(
    path: &Path,
    tensors: &BTreeMap<String, TensorData>,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), LoadError> {
    let bytes = serialize(path, tensors, metadata)?;
    write_atomic(path, &bytes)
}

/// Serialise tensors (f16 and bf16 as they are; other floats as f32, integers as i64, bool)
/// to safetensors bytes in memory;
/// `origin` only names the data in errors.
pub fn to_safetensors_bytes(
    origin: &Path,
    tensors: &BTreeMap<String, TensorData>,
) -> Result<Vec<u8>, LoadError> {
    serialize(origin, tensors, None)
}

fn serialize(
    origin: &Path,
    tensors: &BTreeMap<String, TensorData>,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, LoadError> {
    let path = origin;
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, data) in tensors {
        let shape = data.shape().to_vec();
        let (dtype, bytes) = if matches!(data.dtype(), DType::F16 | DType::BF16) {
            // Half-precision tensors keep their dtype (an `adt export --dtype` file); their
            // bytes are already little-endian 16-bit values.
            let dtype = if data.dtype() == DType::F16 {
                Dtype::F16
            } else {
                Dtype::BF16
            };
            (dtype, data.as_bytes().to_vec())
        } else if data.dtype().is_float() {
            let v = data.iter::<f32>().flat_map(f32::to_le_bytes).collect();
            (Dtype::F32, v)
        } else if matches!(data.dtype(), DType::Bool(_)) {
            (Dtype::BOOL, data.iter::<bool>().map(u8::from).collect())
        } else {
            let v = data.iter::<i64>().flat_map(i64::to_le_bytes).collect();
            (Dtype::I64, v)
        };
        owned.push((name.clone(), dtype, shape, bytes));
    }
    let views = owned
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| LoadError::Tensor {
                    path: path.to_path_buf(),
                    key: n.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, metadata).map_err(|e| LoadError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Write a file so that readers see either the old or the complete new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LoadError::io(dir, e))?;
    }
    std::fs::write(&tmp, bytes).map_err(|e| LoadError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| LoadError::io(path, e))
}
