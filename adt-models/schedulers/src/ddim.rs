//! DDIM (`DDIMScheduler`, Song et al. 2020), deterministic for eta = 0.
//!
//! Step at timestep t → t_prev = t − num_train // n (diffusers uses this offset for
//! every spacing):
//! x̂0, ε̂ from the prediction type; σ_η = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev));
//! prev = √ᾱ_prev·x̂0 + √(1−ᾱ_prev−σ_η²)·ε̂ + σ_η·z.
//! With `clip_sample` x̂0 is clamped (ε̂ is not recomputed, as diffusers'
//! `use_clipped_model_output=False`), which makes the step non-linear.

use burn::Tensor;

use crate::betas::NoiseSchedule;
use crate::coeffs::StepCoeffs;
use crate::config::DdimConfig;
use crate::error::{Result, SchedulerError};
use crate::prediction::{Linear2, vp_estimates};
use crate::sampler::Sampler;
use crate::spacing::ddpm_family_timesteps;
use crate::state::StepState;

#[derive(Debug, Clone)]
pub struct Ddim {
    pub config: DdimConfig,
    pub schedule: NoiseSchedule,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
    eta: f64,
}

/// The pieces of one DDIM step: x̂0, ε̂ maps and their weights.
struct Parts {
    x0: Linear2,
    eps: Linear2,
    x0_weight: f64,
    eps_weight: f64,
    noise: f64,
}

impl Ddim {
    pub fn new(config: DdimConfig, n: usize) -> Result<Self> {
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
            schedule: NoiseSchedule::new(&config.betas),
            config,
            timesteps,
            num_inference_steps: n,
            eta: 0.0,
        })
    }

    /// DDIM's η (0 = deterministic DDIM, 1 = DDPM-like); noise must then be given to `step`.
    pub fn with_eta(mut self, eta: f64) -> Self {
        self.eta = eta;
        self
    }

    pub fn eta(&self) -> f64 {
        self.eta
    }

    fn alpha_prod(&self, t: i64) -> f64 {
        self.schedule.alphas_cumprod[t as usize] as f64
    }

    fn parts(&self, i: usize) -> Parts {
        let t = self.timesteps[i] as i64;
        let prev_t = t - (self.config.betas.num_train_timesteps / self.num_inference_steps) as i64;
        let a_t = self.alpha_prod(t);
        let a_prev = if prev_t >= 0 {
            self.alpha_prod(prev_t)
        } else if self.config.set_alpha_to_one {
            1.0
        } else {
            self.schedule.alphas_cumprod[0] as f64
        };
        let (x0, eps) = vp_estimates(self.config.prediction_type, a_t.sqrt(), (1.0 - a_t).sqrt());
        let variance = (1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev);
        let std = self.eta * variance.sqrt();
        Parts {
            x0,
            eps,
            x0_weight: a_prev.sqrt(),
            eps_weight: (1.0 - a_prev - std * std).sqrt(),
            noise: if self.eta > 0.0 { std } else { 0.0 },
        }
    }
}

impl Sampler for Ddim {
    fn name(&self) -> &'static str {
        "DDIMScheduler"
    }

    fn num_inference_steps(&self) -> usize {
        self.num_inference_steps
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn noise_scales(&self, i: usize) -> (f64, f64) {
        let a = self.alpha_prod(self.timesteps[i] as i64);
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
            sample: p.x0_weight * p.x0.sample + p.eps_weight * p.eps.sample,
            model_output: p.x0_weight * p.x0.model_output + p.eps_weight * p.eps.model_output,
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
            + model_output.clone().mul_scalar(p.x0.model_output))
        .clamp(-range, range);
        let eps = sample.mul_scalar(p.eps.sample) + model_output.mul_scalar(p.eps.model_output);
        let mut prev = x0.mul_scalar(p.x0_weight) + eps.mul_scalar(p.eps_weight);
        if p.noise != 0.0
            && let Some(z) = noise
        {
            prev = prev + z.mul_scalar(p.noise);
        }
        Ok(prev)
    }
}
