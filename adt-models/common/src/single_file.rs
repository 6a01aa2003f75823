//! Reading parts of an original-layout single-file checkpoint (`*.safetensors` holding
//! `model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.*`,
//! `text_encoders.*`, ...).
//!
//! Only the header is parsed up front; tensors are read one by one, so pulling the VAE
//! out of a multi-GB file reads only the VAE's bytes. Floats are upcast to f32, including
//! the fp8 (`F8_E4M3`, `F8_E5M2`) text encoders some files bundle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::LoadError;
use burn::tensor::TensorData;
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// The tensor entries of a safetensors header, by key.
struct Header {
    data_start: u64,
    entries: BTreeMap<String, Entry>,
}

fn bad(path: &Path, message: String) -> LoadError {
    LoadError::Safetensors {
        path: path.to_path_buf(),
        message,
    }
}

fn read_header(path: &Path, file: &mut File) -> Result<Header, LoadError> {
    let len = file
        .metadata()
        .map_err(|e| LoadError::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .len();
    let mut n = [0u8; 8];
    file.read_exact(&mut n)
        .map_err(|_| bad(path, "file is shorter than a safetensors header".into()))?;
    let n = u64::from_le_bytes(n);
    if n > len.saturating_sub(8) || n > 100_000_000 {
        return Err(bad(
            path,
            format!("header length {n} exceeds the file size {len}"),
        ));
    }
    let mut raw = vec![0u8; n as usize];
    file.read_exact(&mut raw)
        .map_err(|e| bad(path, format!("truncated header: {e}")))?;
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&raw)
        .map_err(|e| bad(path, format!("header is not valid JSON: {e}")))?;
    value.remove("__metadata__");
    let mut entries = BTreeMap::new();
    for (key, v) in value {
        let e: Entry = serde_json::from_value(v)
            .map_err(|e| bad(path, format!("header entry `{key}`: {e}")))?;
        if 8 + n + e.data_offsets[1] > len || e.data_offsets[0] > e.data_offsets[1] {
            return Err(bad(path, format!("tensor `{key}` lies outside the file")));
        }
        entries.insert(key, e);
    }
    Ok(Header {
        data_start: 8 + n,
        entries,
    })
}

/// All tensor keys of a safetensors file (header only).
pub fn keys(path: &Path) -> Result<BTreeSet<String>, LoadError> {
    let mut file = File::open(path).map_err(|e| open_error(path, e))?;
    Ok(read_header(path, &mut file)?.entries.into_keys().collect())
}

fn open_error(path: &Path, e: std::io::Error) -> LoadError {
    if e.kind() == std::io::ErrorKind::NotFound {
        LoadError::Missing {
            path: path.to_path_buf(),
        }
    } else {
        LoadError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// The tensors below `prefix` (floats as f32) with the prefix stripped — one component of
/// a single file; none is an error naming `what` was expected there.
pub fn read_below(
    path: &Path,
    prefix: &str,
    what: &str,
) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let raw = read_prefixed(path, prefix)?;
    if raw.is_empty() {
        return Err(LoadError::MissingKeys {
            files: path.display().to_string(),
            count: 1,
            keys: format!("{prefix}* (no {what} in this file)"),
        });
    }
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_string(), v))
        .collect())
}

/// Read the tensors whose key starts with `prefix` (floats as f32), keys unchanged.
pub fn read_prefixed(path: &Path, prefix: &str) -> Result<BTreeMap<String, TensorData>, LoadError> {
    let mut file = File::open(path).map_err(|e| open_error(path, e))?;
    let header = read_header(path, &mut file)?;
    let mut out = BTreeMap::new();
    for (key, e) in header.entries.iter().filter(|(k, _)| k.starts_with(prefix)) {
        let [a, b] = e.data_offsets;
        let mut bytes = vec![0u8; (b - a) as usize];
        file.seek(SeekFrom::Start(header.data_start + a))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|err| LoadError::Tensor {
                path: path.to_path_buf(),
                key: key.clone(),
                message: err.to_string(),
            })?;
        let tensor_err = |message: String| LoadError::Tensor {
            path: path.to_path_buf(),
            key: key.clone(),
            message,
        };
        let values: Vec<f32> = match e.dtype.as_str() {
            "F32" => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            "F16" => bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
                .collect(),
            "BF16" => bytes
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
                .collect(),
            "F8_E4M3" => bytes.iter().map(|&b| f8_e4m3_to_f32(b)).collect(),
            "F8_E5M2" => bytes
                .iter()
                // E5M2 is the top byte of an IEEE half.
                .map(|&b| half::f16::from_bits((b as u16) << 8).to_f32())
                .collect(),
            other => {
                return Err(tensor_err(format!(
                    "unsupported dtype {other} (expected F32, F16, BF16, F8_E4M3 or F8_E5M2)"
                )));
            }
        };
        if values.len() != e.shape.iter().product::<usize>() {
            return Err(tensor_err(format!(
                "{} values for shape {:?}",
                values.len(),
                e.shape
            )));
        }
        out.insert(key.clone(), TensorData::new(values, e.shape.clone()));
    }
    Ok(out)
}

/// `float8_e4m3fn` (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities,
/// `S.1111.111` is NaN) to f32, exactly.
pub fn f8_e4m3_to_f32(b: u8) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = ((b >> 3) & 0x0f) as i32;
    let man = (b & 0x07) as f32;
    if exp == 0x0f && (b & 0x07) == 0x07 {
        return f32::NAN;
    }
    let magnitude = if exp == 0 {
        man / 8.0 * 2f32.powi(-6)
    } else {
        (1.0 + man / 8.0) * 2f32.powi(exp - 7)
    };
    sign * magnitude
}
