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

/// Pipeline goldens: final latents within this × max(1, max|reference|) max-abs.
pub const LATENT_REL_TOL: f32 = 1e-3;
/// Pipeline goldens: 8-bit images at most this many levels apart.
pub const IMAGE_LEVELS: f32 = 2.0;

/// A pipeline's final latents against a diffusers golden ([`LATENT_REL_TOL`]); prints the
/// error either way.
pub fn check_latents(what: &str, got: burn::Tensor<4>, reference: &TensorData) {
    let scale = reference.iter::<f32>().map(f32::abs).fold(1.0, f32::max);
    let err = max_abs_diff(&got.into_data(), reference);
    let tol = LATENT_REL_TOL * scale;
    eprintln!("{what}: latents max-abs {err:.3e} (max |ref| {scale:.2})");
    assert!(err <= tol, "{what} latents: max-abs {err:.3e} > {tol:.3e}");
}

/// Images `[B, 3, H, W]` in [0, 1] against diffusers' `output_type="np"` `[B, H, W, 3]`, in
/// 8-bit levels ([`IMAGE_LEVELS`]).
pub fn check_image(what: &str, got: burn::Tensor<4>, reference: &TensorData) {
    let got = got.permute([0, 2, 3, 1]).into_data();
    assert_eq!(got.shape(), reference.shape(), "{what} image shape");
    let worst = got
        .iter::<f32>()
        .zip(reference.iter::<f32>())
        .map(|(a, b)| ((a * 255.0).round() - (b * 255.0).round()).abs())
        .fold(0.0, f32::max);
    eprintln!("{what}: image max {worst} levels apart");
    assert!(
        worst <= IMAGE_LEVELS,
        "{what} image: {worst} levels apart (> {IMAGE_LEVELS})"
    );
}
