//! Euler ancestral (`EulerAncestralDiscreteScheduler`): an Euler step down to σ_down,
//! then fresh noise of scale σ_up, with σ_up² = σ_{i+1}²(σ_i² − σ_{i+1}²)/σ_i² and
//! σ_down = √(σ_{i+1}² − σ_up²). The caller supplies the noise (standard normal).

use crate::betas::NoiseSchedule;
use crate::coeffs::StepCoeffs;
use crate::config::EulerAncestralConfig;
use crate::error::{Result, SchedulerError};
use crate::euler::init_noise_sigma;
use crate::prediction::ve_x0;
use crate::sampler::Sampler;
use crate::spacing::{euler_timesteps, np_interp_index};
use crate::state::StepState;

#[derive(Debug, Clone)]
pub struct EulerAncestral {
    pub config: EulerAncestralConfig,
    pub schedule: NoiseSchedule,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
    sigmas: Vec<f64>,
    init_noise_sigma: f64,
}

impl EulerAncestral {
    pub fn new(config: EulerAncestralConfig, n: usize) -> Result<Self> {
        let num_train = config.betas.num_train_timesteps;
        if n == 0 || n > num_train {
            return Err(SchedulerError::InferenceSteps {
                requested: n,
                max: num_train,
            });
        }
        let schedule = NoiseSchedule::new_sigma_safe(&config.betas);
        let train_sigmas: Vec<f64> = schedule
            .train_sigmas_f32()
            .iter()
            .map(|&s| s as f64)
            .collect();
        let ts = euler_timesteps(config.timestep_spacing, n, num_train, config.steps_offset);
        let mut sigmas: Vec<f64> = ts
            .iter()
            .map(|&t| np_interp_index(t as f64, &train_sigmas) as f32 as f64)
            .collect();
        sigmas.push(0.0);
        let init_noise_sigma = init_noise_sigma(config.timestep_spacing, &sigmas);
        Ok(Self {
            num_inference_steps: n,
            config,
            schedule,
            timesteps: ts.iter().map(|&t| t as f64).collect(),
            sigmas,
            init_noise_sigma,
        })
    }

    /// (σ_up, σ_down) of step `i`.
    fn up_down(&self, i: usize) -> (f64, f64) {
        let (from, to) = (self.sigmas[i], self.sigmas[i + 1]);
        let up = (to * to * (from * from - to * to) / (from * from)).sqrt();
        // max(0): guards a rounding-negative radicand (diffusers would give NaN there).
        let down = (to * to - up * up).max(0.0).sqrt();
        (up, down)
    }
}

impl Sampler for EulerAncestral {
    fn name(&self) -> &'static str {
        "EulerAncestralDiscreteScheduler"
    }

    fn num_inference_steps(&self) -> usize {
        self.num_inference_steps
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> Option<&[f64]> {
        Some(&self.sigmas)
    }

    fn init_noise_sigma(&self) -> f64 {
        self.init_noise_sigma
    }

    fn input_scale(&self, i: usize) -> f64 {
        let s = self.sigmas[i];
        1.0 / (s * s + 1.0).sqrt()
    }

    fn noise_scales(&self, i: usize) -> (f64, f64) {
        (1.0, self.sigmas[i])
    }

    fn noise_coefficient(&self, i: usize) -> f64 {
        self.up_down(i).0
    }

    fn coeffs(&self, i: usize, _state: &StepState) -> Result<StepCoeffs> {
        let sigma = self.sigmas[i];
        let (up, down) = self.up_down(i);
        let dt = down - sigma;
        let x0 = ve_x0(self.config.prediction_type, sigma);
        Ok(StepCoeffs {
            sample: 1.0 + (1.0 - x0.sample) * dt / sigma,
            model_output: -x0.model_output * dt / sigma,
            history: 0.0,
            noise: up,
        })
    }
}
