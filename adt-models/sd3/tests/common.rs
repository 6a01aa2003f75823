//! Fixture paths and reference tensors shared by the test modules.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use adt_models_common::tensor_io::read_tensors;
use burn::prelude::*;

/// f32 forward outputs vs PyTorch: max-abs error bound per model.
pub const F32_TOL: f32 = 1e-4;
/// Gradients vs torch autograd, relative to the gradient's own scale.
pub const GRAD_REL_TOL: f32 = 1e-4;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `io.safetensors`: every reference tensor of `scripts/fixtures/sd3.py`.
pub fn io() -> BTreeMap<String, TensorData> {
    read_tensors(&fixtures().join("io.safetensors")).unwrap_or_else(|e| {
        panic!("{e}\nregenerate with: .venv/bin/python scripts/fixtures/sd3.py")
    })
}

pub fn get<'a>(io: &'a BTreeMap<String, TensorData>, key: &str) -> &'a TensorData {
    io.get(key)
        .unwrap_or_else(|| panic!("io.safetensors has no `{key}`"))
}

pub fn tensor<const D: usize>(
    io: &BTreeMap<String, TensorData>,
    key: &str,
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(get(io, key).clone(), device)
}

/// Integer ids as an `Int` tensor.
pub fn ids(io: &BTreeMap<String, TensorData>, key: &str, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(get(io, key).clone().convert::<i64>(), device)
}
