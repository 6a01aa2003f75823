//! Sigma-space helpers shared by Euler and DPM-Solver: Karras sigmas and
//! `_sigma_to_t`, replaying diffusers' numpy dtypes (float32 `log_sigmas`).

use crate::spacing::np_linspace;

/// `_convert_to_karras` (Karras et al. 2022, rho = 7), float64.
pub fn karras(sigma_min: f64, sigma_max: f64, n: usize) -> Vec<f64> {
    let rho = 7.0;
    let min_inv = sigma_min.powf(1.0 / rho);
    let max_inv = sigma_max.powf(1.0 / rho);
    np_linspace(0.0, 1.0, n)
        .into_iter()
        .map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho))
        .collect()
}

/// `_sigma_to_t(sigma, log_sigmas)`: fractional train timestep of `sigma` by linear
/// interpolation in log-sigma. `log_sigmas` is float32 (numpy log of a float32
/// array); the bracket width `low - high` is a float32 subtraction in numpy.
pub fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    let n = log_sigmas.len();
    // argmax of cumsum(dists >= 0): the last index with log_sigmas[j] <= log_sigma, or 0.
    let low_idx = log_sigmas
        .iter()
        .rposition(|&l| log_sigma - l as f64 >= 0.0)
        .unwrap_or(0)
        .min(n - 2);
    let high_idx = low_idx + 1;
    let low = log_sigmas[low_idx];
    let high = log_sigmas[high_idx];
    let w = ((low as f64 - log_sigma) / (low - high) as f64).clamp(0.0, 1.0);
    (1.0 - w) * low_idx as f64 + w * high_idx as f64
}

/// float32 natural log of each train sigma (`np.log` of a float32 array).
pub fn log_sigmas_f32(train_sigmas: &[f32]) -> Vec<f32> {
    train_sigmas.iter().map(|s| s.ln()).collect()
}
