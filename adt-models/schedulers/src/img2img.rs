//! img2img start index, as the pipelines' `get_timesteps`: SD1.x/SDXL truncate `n·strength`
//! to whole steps first ([`start_index`]); SD3 truncates only the start
//! ([`start_index_fractional`]), so the two disagree whenever `n·strength` is fractional.

use crate::error::{Result, SchedulerError};

/// init_timestep = min(int(n·strength), n); t_start = max(n − init_timestep, 0);
/// the pipeline then runs `timesteps[t_start·order..]`. Returns `t_start·order`.
pub fn start_index(num_inference_steps: usize, strength: f64, order: usize) -> Result<usize> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(SchedulerError::Strength { strength });
    }
    let n = num_inference_steps;
    // Python's int() truncates toward zero; the product is computed in float64.
    let init = ((n as f64 * strength).trunc() as usize).min(n);
    Ok(n.saturating_sub(init) * order)
}

/// `StableDiffusion3Img2ImgPipeline.get_timesteps`: init_timestep = min(n·strength, n)
/// (kept fractional); t_start = int(max(n − init_timestep, 0)). Returns `t_start·order`.
pub fn start_index_fractional(
    num_inference_steps: usize,
    strength: f64,
    order: usize,
) -> Result<usize> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(SchedulerError::Strength { strength });
    }
    let n = num_inference_steps as f64;
    let init = (n * strength).min(n);
    Ok((n - init).max(0.0).trunc() as usize * order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pipeline_formula() {
        assert_eq!(start_index(50, 0.8, 1).unwrap(), 10);
        assert_eq!(start_index(10, 1.0, 1).unwrap(), 0);
        assert_eq!(start_index(10, 0.0, 1).unwrap(), 10);
        // 10 * 0.29 = 2.9 → int() = 2 → start 8.
        assert_eq!(start_index(10, 0.29, 1).unwrap(), 8);
        assert!(start_index(10, 1.5, 1).is_err());
    }

    #[test]
    fn sd3_keeps_the_fractional_start() {
        // 5 · 0.55 = 2.75: SD1.x starts at 5 − int(2.75) = 3, SD3 at int(5 − 2.75) = 2.
        assert_eq!(start_index(5, 0.55, 1).unwrap(), 3);
        assert_eq!(start_index_fractional(5, 0.55, 1).unwrap(), 2);
        assert_eq!(start_index_fractional(10, 1.0, 1).unwrap(), 0);
        assert_eq!(start_index_fractional(10, 0.0, 1).unwrap(), 10);
        assert!(start_index_fractional(10, -0.1, 1).is_err());
    }
}
