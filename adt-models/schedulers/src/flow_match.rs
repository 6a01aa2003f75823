//! Flow-matching Euler (`FlowMatchEulerDiscreteScheduler`, SD3): x_σ = (1−σ)·x0 + σ·ε,
//! the model predicts the velocity v = ε − x0, and a step is x + (σ_{i+1} − σ_i)·v.
//! Sigmas are shifted with `shift` (σ' = sσ/(1+(s−1)σ)), static shifting only.

use crate::coeffs::StepCoeffs;
use crate::config::FlowMatchConfig;
use crate::error::{Result, SchedulerError};
use crate::sampler::Sampler;
use crate::spacing::np_linspace;
use crate::state::StepState;

/// `shift · σ / (1 + (shift − 1) · σ)` in float32, as the scheduler's `__init__` shifts its
/// training sigmas.
fn shift_f32(shift: f32, sigma: f32) -> f32 {
    shift * sigma / (1.0 + (shift - 1.0) * sigma)
}

impl FlowMatchConfig {
    /// The training sigmas of `FlowMatchEulerDiscreteScheduler.__init__`, index 0 noisiest:
    /// σ_i = shift(t_i / N) with t = linspace(1, N, N)[::-1] = N − i, all in float32 (what
    /// the SD3 training scripts index with `(u · N).long()`). The model timestep of index i
    /// is σ_i · N (float32), `scheduler.timesteps[i]`.
    pub fn training_sigmas(&self) -> Vec<f32> {
        let n = self.num_train_timesteps;
        let shift = self.shift as f32;
        (0..n)
            .map(|i| shift_f32(shift, (n - i) as f32 / n as f32))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct FlowMatchEuler {
    pub config: FlowMatchConfig,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
    sigmas: Vec<f64>,
}

impl FlowMatchEuler {
    pub fn new(config: FlowMatchConfig, n: usize) -> Result<Self> {
        let num_train = config.num_train_timesteps;
        if n == 0 {
            return Err(SchedulerError::InferenceSteps {
                requested: n,
                max: num_train,
            });
        }
        let nf = num_train as f64;
        let shift = config.shift;
        // __init__: train sigmas t/N in float32, shifted in float32; keep the ends.
        let train = |t: f32| shift_f32(shift as f32, t / num_train as f32) as f64;
        let sigma_max = train(num_train as f32);
        let sigma_min = train(1.0);
        // set_timesteps: float64 numpy, then float32.
        let sigmas: Vec<f32> = np_linspace(sigma_max * nf, sigma_min * nf, n)
            .into_iter()
            .map(|t| {
                let s = t / nf;
                (shift * s / (1.0 + (shift - 1.0) * s)) as f32
            })
            .collect();
        let timesteps = sigmas
            .iter()
            .map(|&s| (s * num_train as f32) as f64)
            .collect();
        let mut sigmas: Vec<f64> = sigmas.into_iter().map(|s| s as f64).collect();
        sigmas.push(0.0);
        Ok(Self {
            num_inference_steps: n,
            config,
            timesteps,
            sigmas,
        })
    }
}

impl Sampler for FlowMatchEuler {
    fn name(&self) -> &'static str {
        "FlowMatchEulerDiscreteScheduler"
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

    /// `scale_noise`: σ·noise + (1−σ)·sample.
    fn noise_scales(&self, i: usize) -> (f64, f64) {
        let s = self.sigmas[i];
        (1.0 - s, s)
    }

    fn noise_coefficient(&self, _i: usize) -> f64 {
        0.0
    }

    fn coeffs(&self, i: usize, _state: &StepState) -> Result<StepCoeffs> {
        // dt is a float32 subtraction in diffusers.
        let dt = (self.sigmas[i + 1] as f32 - self.sigmas[i] as f32) as f64;
        Ok(StepCoeffs {
            sample: 1.0,
            model_output: dt,
            history: 0.0,
            noise: 0.0,
        })
    }
}
