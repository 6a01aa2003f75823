//! DDPM ancestral sampling (`DDPMScheduler`, Ho et al. 2020).
//!
//! Step from timestep t to the next scheduled one t_prev (−1 after the last):
//! prev = √ᾱ_prev·β_t'/(1−ᾱ_t)·x̂0 + √α_t'·(1−ᾱ_prev)/(1−ᾱ_t)·x_t + σ_t·z,
//! with α_t' = ᾱ_t/ᾱ_prev, β_t' = 1−α_t', and σ_t from `variance_type`; no noise at t = 0.

use burn::Tensor;

use crate::betas::NoiseSchedule;
use crate::coeffs::StepCoeffs;
use crate::config::{DdpmConfig, DdpmVarianceType};
use crate::error::{Result, SchedulerError};
use crate::prediction::{Linear2, vp_estimates};
use crate::sampler::Sampler;
use crate::spacing::ddpm_family_timesteps;
use crate::state::StepState;

#[derive(Debug, Clone)]
pub struct Ddpm {
    pub config: DdpmConfig,
    pub schedule: NoiseSchedule,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
}

struct Parts {
    x0: Linear2,
    x0_weight: f64,
    sample_weight: f64,
    noise: f64,
}

impl Ddpm {
    pub fn new(config: DdpmConfig, n: usize) -> Result<Self> {
        let num_train = config.betas.num_train_timesteps;
        if n == 0 || n > num_train {
            return Err(SchedulerError::InferenceSteps {
                requested: n,
                max: num_train,
            });
        }
        let timesteps =
            ddpm_family_timesteps(config.timestep_spacing, n, num_train, config.steps_offset)
                .into_iter()
                .map(|t| t as f64)
                .collect();
        Ok(Self {
            num_inference_steps: n,
            schedule: NoiseSchedule::new(&config.betas),
            config,
            timesteps,
        })
    }

    fn parts(&self, i: usize) -> Parts {
        let t = self.timesteps[i] as usize;
        let a_t = self.schedule.alphas_cumprod[t] as f64;
        let a_prev = match self.timesteps.get(i + 1) {
            Some(&p) => self.schedule.alphas_cumprod[p as usize] as f64,
            None => 1.0,
        };
        let alpha = a_t / a_prev;
        let beta = 1.0 - alpha;
        let (x0, _) = vp_estimates(self.config.prediction_type, a_t.sqrt(), (1.0 - a_t).sqrt());
        let noise = if t > 0 {
            let variance = ((1.0 - a_prev) / (1.0 - a_t) * beta).max(1e-20);
            match self.config.variance_type {
                DdpmVarianceType::FixedSmall => variance.sqrt(),
                DdpmVarianceType::FixedSmallLog => (0.5 * variance.ln()).exp(),
                DdpmVarianceType::FixedLarge => beta.sqrt(),
                _ => unreachable!("rejected by the config reader"),
            }
        } else {
            0.0
        };
        Parts {
            x0,
            x0_weight: a_prev.sqrt() * beta / (1.0 - a_t),
            sample_weight: alpha.sqrt() * (1.0 - a_prev) / (1.0 - a_t),
            noise,
        }
    }
}

impl Sampler for Ddpm {
    fn name(&self) -> &'static str {
        "DDPMScheduler"
    }

    fn num_inference_steps(&self) -> usize {
        self.num_inference_steps
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn noise_scales(&self, i: usize) -> (f64, f64) {
        let a = self.schedule.alphas_cumprod[self.timesteps[i] as usize] as f64;
        (a.sqrt(), (1.0 - a).sqrt())
    }

    fn noise_coefficient(&self, i: usize) -> f64 {
        self.parts(i).noise
    }

    fn coeffs(&self, i: usize, _state: &StepState) -> Result<StepCoeffs> {
        if self.config.clip_sample {
            return Err(SchedulerError::NonLinear {
                scheduler: self.name(),
                index: i,
                field: "clip_sample",
            });
        }
        let p = self.parts(i);
        Ok(StepCoeffs {
            sample: p.x0_weight * p.x0.sample + p.sample_weight,
            model_output: p.x0_weight * p.x0.model_output,
            history: 0.0,
            noise: p.noise,
        })
    }

    fn step(
        &self,
        state: &mut StepState,
        i: usize,
        model_output: Tensor<4>,
        sample: Tensor<4>,
        noise: Option<Tensor<4>>,
    ) -> Result<Tensor<4>> {
        if !self.config.clip_sample {
            let c = self.coeffs(i, state)?;
            return Ok(c.apply(sample, model_output, None, noise));
        }
        let p = self.parts(i);
        let range = self.config.clip_sample_range;
        let x0 = (sample.clone().mul_scalar(p.x0.sample)
            + model_output.mul_scalar(p.x0.model_output))
        .clamp(-range, range);
        let mut prev = x0.mul_scalar(p.x0_weight) + sample.mul_scalar(p.sample_weight);
        if p.noise != 0.0
            && let Some(z) = noise
        {
            prev = prev + z.mul_scalar(p.noise);
        }
        Ok(prev)
    }
}
