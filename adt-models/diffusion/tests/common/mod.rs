//! Shared helpers for the parity tests: fixture paths, reference tensors, comparisons.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use adt_models_common::tensor_io::read_tensors;
use adt_models_common::testing::assert_close;
use burn::prelude::*;

/// f32 forward outputs vs PyTorch: max-abs error bound.
pub const F32_TOL: f32 = 1e-4;
/// Gradients vs torch autograd: a longer chain of f32 rounding than the forward pass, so
/// the bound is relative to the gradient's own scale (see [`assert_grad_close`]).
pub const GRAD_REL_TOL: f32 = 1e-4;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

pub fn reference(name: &str) -> BTreeMap<String, TensorData> {
    let path = fixtures().join(name);
    read_tensors(&path).unwrap_or_else(|e| {
        panic!("{e}\nregenerate the fixtures with: .venv/bin/python scripts/fixtures/diffusion.py")
    })
}

pub fn device() -> Device {
    Device::flex()
}

pub fn tensor<const D: usize>(
    io: &BTreeMap<String, TensorData>,
    key: &str,
    device: &Device,
) -> Tensor<D> {
    let data = io
        .get(key)
        .unwrap_or_else(|| panic!("reference file has no `{key}`"))
        .clone();
    Tensor::from_data(data, device)
}

pub fn get<'a>(io: &'a BTreeMap<String, TensorData>, key: &str) -> &'a TensorData {
    io.get(key)
        .unwrap_or_else(|| panic!("reference file has no `{key}`"))
}

/// Compare a gradient with max-abs <= GRAD_REL_TOL * max|reference| (and at most F32_TOL
/// absolute when the gradient is large); prints the error either way.
pub fn assert_grad_close(name: &str, actual: &TensorData, expected: &TensorData) -> f32 {
    let scale = expected.iter::<f32>().map(f32::abs).fold(0.0, f32::max);
    assert!(
        scale > 0.0,
        "{name}: reference gradient is all zeros; the fixture cannot detect anything"
    );
    let tol = (GRAD_REL_TOL * scale).max(1e-7);
    assert_close(name, actual, expected, tol)
}

/// burn `Linear` weight `[in, out]` -> PyTorch `[out, in]`.
pub fn linear_to_torch(t: Tensor<2>) -> TensorData {
    t.transpose().to_data()
}
