//! Helpers for parity tests against reference outputs.

use burn::tensor::TensorData;

/// Largest absolute element difference; panics on a shape mismatch, since
/// comparing tensors of different shapes is a bug in the test itself.
pub fn max_abs_diff(actual: &TensorData, expected: &TensorData) -> f32 {
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "shape mismatch: actual {:?} vs expected {:?}",
        actual.shape(),
        expected.shape()
    );
    actual
        .iter::<f32>()
        .zip(expected.iter::<f32>())
        .map(|(a, e)| {
            if a.is_nan() || e.is_nan() {
                f32::INFINITY
            } else {
                (a - e).abs()
            }
        })
        .fold(0.0, f32::max)
}

/// Assert `actual` matches `expected` within `tol` max-abs, naming the
/// comparison and printing the error either way (so logs show the margin).
pub fn assert_close(name: &str, actual: &TensorData, expected: &TensorData, tol: f32) -> f32 {
    let err = max_abs_diff(actual, expected);
    let scale = expected.iter::<f32>().map(f32::abs).fold(0.0, f32::max);
    println!("{name}: max-abs {err:.3e} (tolerance {tol:.0e}, reference max |x| {scale:.3e})");
    assert!(
        err <= tol,
        "{name}: max-abs error {err:.3e} exceeds tolerance {tol:.0e} (reference max |x| {scale:.3e})"
    );
    err
}
