//! Euler (`EulerDiscreteScheduler`, Karras et al. 2022 Algorithm 2 without churn).
//!
//! Works in σ-space: x = x0 + σ·ε, the model sees x/√(σ²+1). Step:
//! prev = x + (x − x̂0)/σ_i · (σ_{i+1} − σ_i). Sigmas are the train sigmas
//! √((1−ᾱ)/ᾱ) interpolated at the (float) timesteps, or Karras sigmas mapped back to
//! fractional timesteps; timesteps and sigmas are float32 values as in diffusers.
//! `s_churn` (stochastic Euler) is not implemented: diffusers' default is 0.

use crate::betas::NoiseSchedule;
use crate::coeffs::StepCoeffs;
use crate::config::{EulerConfig, FinalSigmasType};
use crate::error::{Result, SchedulerError};
use crate::prediction::ve_x0;
use crate::sampler::Sampler;
use crate::sigmas::{karras, log_sigmas_f32, sigma_to_t};
use crate::spacing::{TimestepSpacing, euler_timesteps, np_interp_index};
use crate::state::StepState;

#[derive(Debug, Clone)]
pub struct Euler {
    pub config: EulerConfig,
    pub schedule: NoiseSchedule,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
    sigmas: Vec<f64>,
    init_noise_sigma: f64,
}

impl Euler {
    pub fn new(config: EulerConfig, n: usize) -> Result<Self> {
        let num_train = config.betas.num_train_timesteps;
        if n == 0 || n > num_train {
            return Err(SchedulerError::InferenceSteps {
                requested: n,
                max: num_train,
            });
        }
        let schedule = NoiseSchedule::new_sigma_safe(&config.betas);
        let train_sigmas = schedule.train_sigmas_f32();
        let train_sigmas_f64: Vec<f64> = train_sigmas.iter().map(|&s| s as f64).collect();
        let ts = euler_timesteps(config.timestep_spacing, n, num_train, config.steps_offset);
        let mut sigmas: Vec<f64> = ts
            .iter()
            .map(|&t| np_interp_index(t as f64, &train_sigmas_f64))
            .collect();
        let mut timesteps: Vec<f64> = ts.iter().map(|&t| t as f64).collect();
        if config.use_karras_sigmas {
            let lo = config.sigma_min.unwrap_or(sigmas[sigmas.len() - 1]);
            let hi = config.sigma_max.unwrap_or(sigmas[0]);
            sigmas = karras(lo, hi, n);
            let log_sigmas = log_sigmas_f32(&train_sigmas);
            timesteps = sigmas
                .iter()
                .map(|&s| sigma_to_t(s, &log_sigmas) as f32 as f64)
                .collect();
        }
        sigmas.push(final_sigma(config.final_sigmas_type, &schedule));
        // diffusers stores sigmas as float32.
        let sigmas: Vec<f64> = sigmas.into_iter().map(|s| s as f32 as f64).collect();
        let init_noise_sigma = init_noise_sigma(config.timestep_spacing, &sigmas);
        Ok(Self {
            num_inference_steps: n,
            config,
            schedule,
            timesteps,
            sigmas,
            init_noise_sigma,
        })
    }
}

/// `final_sigmas_type`: 0, or the smallest train sigma (float32 torch arithmetic).
pub(crate) fn final_sigma(kind: FinalSigmasType, schedule: &NoiseSchedule) -> f64 {
    match kind {
        FinalSigmasType::Zero => 0.0,
        FinalSigmasType::SigmaMin => {
            let a = schedule.alphas_cumprod[0];
            ((1.0 - a) / a).sqrt() as f64
        }
    }
}

/// max σ for linspace/trailing spacing, else √(max σ² + 1) (float32, as diffusers).
pub(crate) fn init_noise_sigma(spacing: TimestepSpacing, sigmas: &[f64]) -> f64 {
    let max = sigmas.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s)) as f32;
    match spacing {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max as f64,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt() as f64,
    }
}

impl Sampler for Euler {
    fn name(&self) -> &'static str {
        "EulerDiscreteScheduler"
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

    fn noise_coefficient(&self, _i: usize) -> f64 {
        0.0
    }

    fn coeffs(&self, i: usize, _state: &StepState) -> Result<StepCoeffs> {
        let sigma = self.sigmas[i];
        let dt = self.sigmas[i + 1] - sigma;
        let x0 = ve_x0(self.config.prediction_type, sigma);
        // prev = x + (x − x̂0)/σ·dt
        Ok(StepCoeffs {
            sample: 1.0 + (1.0 - x0.sample) * dt / sigma,
            model_output: -x0.model_output * dt / sigma,
            history: 0.0,
            noise: 0.0,
        })
    }
}
