//! diffusers schedulers as the engine's [`Sampler`] (one differentiable step at a time), and
//! the checkpoint's training noise levels as the engine's [`NoiseSchedule`]: the DDPM ᾱ table
//! ([`AlphaSchedule`]) or the flow-matching sigmas ([`FlowSchedule`]),
//! chosen by [`training_schedule`].

use adt_plugin::traits::{NoiseLevel, NoiseSchedule, Prediction, Sampler, SamplerHistory};
use adt_schedulers::{
    NoiseSchedule as AlphaTable, PredictionType, SAMPLER_NAMES, SamplerName, Scheduler,
    SchedulerConfig, StepState,
};
use std::sync::{Arc, Mutex};

use adt_schedulers::config::FlowMatchConfig;

use burn::prelude::*;

use crate::error::{FamilyError, Result};

/// The engine's prediction type for a scheduler config's `prediction_type`.
pub fn engine_prediction(config: &SchedulerConfig) -> Result<Prediction> {
    match config.prediction_type() {
        PredictionType::Epsilon => Ok(Prediction::Epsilon),
        PredictionType::VPrediction => Ok(Prediction::V),
        PredictionType::FlowPrediction => Ok(Prediction::Flow),
        PredictionType::Sample => Err(FamilyError::Request(
            "prediction_type `sample` (x0-prediction) is not supported by the ADT engine".into(),
        )),
    }
}

/// A deterministic diffusers sampler, set to whatever step count `m` the engine asks (the
/// schedule of the last `m` is kept: the engine asks for the same `m` every step).
#[derive(Debug)]
pub struct SchedulerSampler {
    name: SamplerName,
    config: SchedulerConfig,
    last: Mutex<Option<Arc<Scheduler>>>,
}

impl SchedulerSampler {
    /// Refuses stochastic samplers (DDPM, Euler ancestral): the engine's simulated inference
    /// is a deterministic function of the start latent and the model outputs.
    pub fn new(name: SamplerName, config: SchedulerConfig) -> Result<Self> {
        if !name.is_deterministic() {
            let deterministic: Vec<&str> = SAMPLER_NAMES
                .into_iter()
                .filter(|n| n.parse::<SamplerName>().is_ok_and(|s| s.is_deterministic()))
                .collect();
            return Err(FamilyError::Request(format!(
                "sampler `{name}` adds fresh noise every step; ADT training needs a deterministic \
                 sampler ({})",
                deterministic.join(", ")
            )));
        }
        Scheduler::new(&config, 1)?; // reject unusable configs now, not mid-training
        Ok(Self {
            name,
            config,
            last: Mutex::new(None),
        })
    }

    fn schedule(&self, m: usize) -> Arc<Scheduler> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_ref() {
            Some(s) if s.num_inference_steps() == m => s.clone(),
            _ => {
                // Validated in `new`; only the step count varies.
                let s = Arc::new(
                    Scheduler::new(&self.config, m)
                        .unwrap_or_else(|e| panic!("{}: {m} steps: {e}", self.name)),
                );
                *last = Some(s.clone());
                s
            }
        }
    }
}

impl Sampler for SchedulerSampler {
    fn name(&self) -> String {
        self.name.to_string()
    }

    fn timesteps(&self, m: usize) -> Vec<f32> {
        self.schedule(m)
            .timesteps()
            .iter()
            .map(|&t| t as f32)
            .collect()
    }

    fn add_noise(&self, m: usize, index: usize, x0: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        self.schedule(m)
            .add_noise_at(x0, noise, index)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    fn initial_noise(&self, m: usize, noise: Tensor<4>) -> Tensor<4> {
        noise.mul_scalar(self.schedule(m).init_noise_sigma())
    }

    fn scale_model_input(&self, m: usize, index: usize, x: Tensor<4>) -> Tensor<4> {
        self.schedule(m)
            .scale_model_input(x, index)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    fn step(
        &self,
        m: usize,
        index: usize,
        x: Tensor<4>,
        model_output: Tensor<4>,
        history: &mut SamplerHistory,
    ) -> Tensor<4> {
        // The history keeps only the last data prediction (all DPM-Solver++ 2M needs).
        let last = history
            .outputs
            .last()
            .map(|x0| (index.wrapping_sub(1), x0.clone()));
        let mut state = StepState::resume(last, history.steps);
        let prev = self
            .schedule(m)
            .step(&mut state, index, model_output, x, None)
            .unwrap_or_else(|e| panic!("{} step {index}/{m}: {e}", self.name));
        history.outputs.clear();
        if let Some((_, x0)) = state.history() {
            history.outputs.push(x0.clone());
        }
        history.steps += 1;
        prev
    }
}

/// `L_diff`'s noise levels: the checkpoint's training ᾱ table, `t = ⌊u·T⌋`.
#[derive(Debug, Clone)]
pub struct AlphaSchedule {
    alphas_cumprod: Vec<f32>,
}

impl AlphaSchedule {
    pub fn new(config: &SchedulerConfig) -> Result<Self> {
        Ok(Self {
            alphas_cumprod: AlphaTable::for_training(config)?.alphas_cumprod,
        })
    }
}

impl NoiseSchedule for AlphaSchedule {
    fn training_level(&self, u: f64) -> NoiseLevel {
        let n = self.alphas_cumprod.len();
        let t = ((u * n as f64).floor() as usize).min(n - 1);
        let a = self.alphas_cumprod[t] as f64;
        NoiseLevel {
            timestep: t as f32,
            alpha: a.sqrt() as f32,
            sigma: (1.0 - a).sqrt() as f32,
        }
    }
}

/// `L_diff`'s noise levels for flow matching, as diffusers' SD3 training scripts
/// (`train_dreambooth_sd3.py`): index `i = ⌊u·N⌋` into the scheduler's training sigmas
/// (shifted, float32), `x_σ = (1−σ)·x0 + σ·ε`, the model timestep σ·N.
#[derive(Debug, Clone)]
pub struct FlowSchedule {
    sigmas: Vec<f32>,
}

impl FlowSchedule {
    pub fn new(config: &FlowMatchConfig) -> Self {
        Self {
            sigmas: config.training_sigmas(),
        }
    }
}

impl NoiseSchedule for FlowSchedule {
    fn training_level(&self, u: f64) -> NoiseLevel {
        let n = self.sigmas.len();
        let i = ((u * n as f64).floor() as usize).min(n - 1);
        let sigma = self.sigmas[i];
        NoiseLevel {
            timestep: sigma * n as f32,
            alpha: 1.0 - sigma,
            sigma,
        }
    }
}

/// The training schedule of a checkpoint's scheduler config: flow sigmas for
/// `FlowMatchEulerDiscreteScheduler`, the ᾱ table for the DDPM family.
pub fn training_schedule(config: &SchedulerConfig) -> Result<Arc<dyn NoiseSchedule>> {
    Ok(match config {
        SchedulerConfig::FlowMatchEulerDiscrete(c) => Arc::new(FlowSchedule::new(c)),
        other => Arc::new(AlphaSchedule::new(other)?),
    })
}
