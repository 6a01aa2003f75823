//! img2img start index, as `StableDiffusionImg2ImgPipeline.get_timesteps`.

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
}
