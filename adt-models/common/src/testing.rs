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

/// Copy the folder `from` into `to` recursively (tests edit copies of fixture checkpoints).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
