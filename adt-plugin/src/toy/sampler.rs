//! Toy schedules/samplers: DDIM (η = 0) on diffusers' "linear" β schedule (1e-4 → 0.02, 1000
//! steps, `set_alpha_to_one`, leading spacing, offset 0), and flow-matching Euler
//! (`x_t = (1−σ)x0 + σε`, uniform σ grid, timestep = 1000σ).

use burn::prelude::*;

use crate::traits::{NoiseLevel, NoiseSchedule, Prediction, Sampler, SamplerHistory};

/// DDIM on a linear-β schedule, for ε or v prediction.
#[derive(Clone, Debug)]
pub struct LinearDdim {
    alphas_cumprod: Vec<f64>,
    prediction: Prediction,
}

impl LinearDdim {
    /// 1000 training steps, β from 1e-4 to 0.02.
    pub fn new(prediction: Prediction) -> Self {
        assert!(
            prediction != Prediction::Flow,
            "LinearDdim: flow prediction needs FlowEuler"
        );
        let n = 1000;
        let mut acc = 1.0;
        let alphas_cumprod = (0..n)
            .map(|i| {
                let beta = 1e-4 + (0.02 - 1e-4) * i as f64 / (n - 1) as f64;
                acc *= 1.0 - beta;
                acc
            })
            .collect();
        Self {
            alphas_cumprod,
            prediction,
        }
    }

    fn ratio(&self, m: usize) -> usize {
        (self.alphas_cumprod.len() / m).max(1)
    }

    /// ᾱ at integer timestep `t` (`t < 0` → 1, the final "alpha one").
    pub fn alpha_bar(&self, t: i64) -> f64 {
        if t < 0 {
            1.0
        } else {
            self.alphas_cumprod[t as usize]
        }
    }

    /// The linear step coefficients `(a, b)` of step `index`: `x_next = a·x + b·ε̂` (ε prediction).
    pub fn eps_coefficients(&self, m: usize, index: usize) -> (f64, f64) {
        let t = self.timesteps(m)[index] as i64;
        let prev = t - self.ratio(m) as i64;
        let (at, ap) = (self.alpha_bar(t), self.alpha_bar(prev));
        let a = (ap / at).sqrt();
        let b = (1.0 - ap).sqrt() - (ap * (1.0 - at) / at).sqrt();
        (a, b)
    }
}

impl NoiseSchedule for LinearDdim {
    fn training_level(&self, u: f64) -> NoiseLevel {
        let n = self.alphas_cumprod.len();
        let t = ((u * n as f64) as usize).min(n - 1);
        let ab = self.alphas_cumprod[t];
        NoiseLevel {
            timestep: t as f32,
            alpha: ab.sqrt() as f32,
            sigma: (1.0 - ab).sqrt() as f32,
        }
    }
}

impl Sampler for LinearDdim {
    fn name(&self) -> String {
        "ddim".into()
    }

    fn timesteps(&self, m: usize) -> Vec<f32> {
        let r = self.ratio(m);
        (0..m).rev().map(|i| (i * r) as f32).collect()
    }

    fn add_noise(&self, m: usize, index: usize, x0: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        let ab = self.alpha_bar(self.timesteps(m)[index] as i64);
        x0.mul_scalar(ab.sqrt()) + noise.mul_scalar((1.0 - ab).sqrt())
    }

    fn step(
        &self,
        m: usize,
        index: usize,
        x: Tensor<4>,
        out: Tensor<4>,
        _h: &mut SamplerHistory,
    ) -> Tensor<4> {
        let t = self.timesteps(m)[index] as i64;
        let prev = t - self.ratio(m) as i64;
        let (at, ap) = (self.alpha_bar(t), self.alpha_bar(prev));
        let eps = match self.prediction {
            Prediction::Epsilon => out,
            // ε = √ᾱ·v + √(1−ᾱ)·x
            Prediction::V => out.mul_scalar(at.sqrt()) + x.clone().mul_scalar((1.0 - at).sqrt()),
            Prediction::Flow => unreachable!(),
        };
        let a = (ap / at).sqrt();
        let b = (1.0 - ap).sqrt() - (ap * (1.0 - at) / at).sqrt();
        x.mul_scalar(a) + eps.mul_scalar(b)
    }
}

/// Flow-matching Euler with σ uniform from 1 to 0.
#[derive(Clone, Debug, Default)]
pub struct FlowEuler;

impl FlowEuler {
    fn sigmas(m: usize) -> Vec<f64> {
        (0..=m).map(|i| 1.0 - i as f64 / m as f64).collect()
    }
}

impl NoiseSchedule for FlowEuler {
    fn training_level(&self, u: f64) -> NoiseLevel {
        let s = u.clamp(0.0, 1.0);
        NoiseLevel {
            timestep: (s * 1000.0) as f32,
            alpha: (1.0 - s) as f32,
            sigma: s as f32,
        }
    }
}

impl Sampler for FlowEuler {
    fn name(&self) -> String {
        "flow_euler".into()
    }

    fn timesteps(&self, m: usize) -> Vec<f32> {
        Self::sigmas(m)[..m]
            .iter()
            .map(|s| (s * 1000.0) as f32)
            .collect()
    }

    fn add_noise(&self, m: usize, index: usize, x0: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        let s = Self::sigmas(m)[index];
        x0.mul_scalar(1.0 - s) + noise.mul_scalar(s)
    }

    fn step(
        &self,
        m: usize,
        index: usize,
        x: Tensor<4>,
        out: Tensor<4>,
        _h: &mut SamplerHistory,
    ) -> Tensor<4> {
        let s = Self::sigmas(m);
        x + out.mul_scalar(s[index + 1] - s[index])
    }
}
