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
