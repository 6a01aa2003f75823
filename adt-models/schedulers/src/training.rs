//! Training-shaped helpers on the DDPM noise schedule, per-sample timesteps:
//! `add_noise`, `get_velocity` (the v-prediction target) and SNR
//! (`diffusers.training_utils.compute_snr`), all in burn ops and differentiable in
//! the sample/noise tensors.
//!
//! The per-timestep constants are float32 like diffusers (`alphas_cumprod ** 0.5` on a
//! float32 tensor) and gathered with `select`, so a batch can mix timesteps.

use burn::tensor::{DType, Int, TensorData};
use burn::tensor::{Device, Tensor};

use crate::betas::NoiseSchedule;
use crate::config::SchedulerConfig;
use crate::error::{Result, SchedulerError};

impl NoiseSchedule {
    /// The training schedule of a DDPM-family config (what `DDPMScheduler.from_config`
    /// holds; Euler/DPM's 2^-24 zero-SNR clamp is a sampling-time device and is not
    /// applied). Flow matching has no ᾱ table: error.
    pub fn for_training(config: &SchedulerConfig) -> Result<Self> {
        let betas = match config {
            SchedulerConfig::Ddpm(c) => &c.betas,
            SchedulerConfig::Ddim(c) => &c.betas,
            SchedulerConfig::EulerDiscrete(c) => &c.betas,
            SchedulerConfig::EulerAncestralDiscrete(c) => &c.betas,
            SchedulerConfig::DpmSolverMultistep(c) => &c.betas,
            SchedulerConfig::FlowMatchEulerDiscrete(_) => {
                return Err(SchedulerError::Option {
                    option: "alphas_cumprod (training schedule)",
                    scheduler: "FlowMatchEulerDiscreteScheduler",
                });
            }
        };
        Ok(Self::new(betas))
    }

    /// Signal-to-noise ratio ᾱ_t/(1−ᾱ_t) at train timestep `t`, as `compute_snr`
    /// (float32: (√ᾱ/√(1−ᾱ))²).
    pub fn snr_at(&self, t: usize) -> f64 {
        let a = self.alphas_cumprod[t];
        let r = a.sqrt() / (1.0 - a).sqrt();
        (r * r) as f64
    }

    /// x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε with one timestep per batch element.
    pub fn add_noise(
        &self,
        original: Tensor<4>,
        noise: Tensor<4>,
        timesteps: Tensor<1, Int>,
    ) -> Result<Tensor<4>> {
        let (a, s) = self.gather_alpha_sigma(&original, &timesteps)?;
        Ok(original * a + noise * s)
    }

    /// v = √ᾱ_t·ε − √(1−ᾱ_t)·x0 (the v-prediction target).
    pub fn get_velocity(
        &self,
        sample: Tensor<4>,
        noise: Tensor<4>,
        timesteps: Tensor<1, Int>,
    ) -> Result<Tensor<4>> {
        let (a, s) = self.gather_alpha_sigma(&sample, &timesteps)?;
        Ok(noise * a - sample * s)
    }

    /// SNR per batch element (for min-SNR loss weighting).
    pub fn snr(&self, timesteps: Tensor<1, Int>, device: &Device) -> Result<Tensor<1>> {
        self.check_timesteps(&timesteps)?;
        let table: Vec<f32> = (0..self.num_train_timesteps())
            .map(|t| self.snr_at(t) as f32)
            .collect();
        let n = table.len();
        Ok(
            Tensor::<1>::from_data(TensorData::new(table, [n]), (device, DType::F32))
                .select(0, timesteps),
        )
    }

    fn check_timesteps(&self, timesteps: &Tensor<1, Int>) -> Result<()> {
        let n = self.num_train_timesteps();
        let values = timesteps
            .to_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap_or_default();
        if let Some(&bad) = values.iter().find(|&&t| t < 0 || t as usize >= n) {
            return Err(SchedulerError::Timestep {
                timestep: bad,
                num_train: n,
            });
        }
        Ok(())
    }

    /// [B,1,1,1] tensors of √ᾱ_t and √(1−ᾱ_t) in the sample's dtype.
    fn gather_alpha_sigma(
        &self,
        like: &Tensor<4>,
        timesteps: &Tensor<1, Int>,
    ) -> Result<(Tensor<4>, Tensor<4>)> {
        self.check_timesteps(timesteps)?;
        let [b, ..] = like.dims();
        if timesteps.dims()[0] != b {
            return Err(SchedulerError::Batch {
                timesteps: timesteps.dims()[0],
                batch: b,
            });
        }
        let n = self.num_train_timesteps();
        let device = like.device();
        let dtype = like.dtype();
        let table = |f: &dyn Fn(f32) -> f32| {
            let v: Vec<f32> = self.alphas_cumprod.iter().map(|&a| f(a)).collect();
            Tensor::<1>::from_data(TensorData::new(v, [n]), (&device, dtype))
                .select(0, timesteps.clone())
                .reshape([b, 1, 1, 1])
        };
        Ok((table(&|a| a.sqrt()), table(&|a| (1.0 - a).sqrt())))
    }
}
