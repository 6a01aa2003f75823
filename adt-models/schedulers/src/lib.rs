//! Diffusion samplers exact to diffusers 0.37.1, one differentiable step at a time.
//!
//! Implemented classes (by `_class_name`): `DDPMScheduler`, `DDIMScheduler`,
//! `EulerDiscreteScheduler`, `EulerAncestralDiscreteScheduler`,
//! `DPMSolverMultistepScheduler` (DPM-Solver++ 1S/2M) and
//! `FlowMatchEulerDiscreteScheduler` (SD3).
//!
//! # Shape of the API
//! * [`SchedulerConfig`] reads `scheduler_config.json` with diffusers' field names and
//!   per-class defaults; unsupported option values are errors naming the field.
//! * [`Scheduler::new`]`(&config, n)` is `from_config` + `set_timesteps(n)`: an
//!   immutable schedule with [`Scheduler::timesteps`], [`Scheduler::sigmas`],
//!   [`Scheduler::init_noise_sigma`].
//! * Sampling loop, index `i` over `0..len()` (or from [`Scheduler::img2img_start`]):
//!   ```text
//!   let mut state = StepState::new();           // one per trajectory
//!   for i in start..sched.len() {
//!       let input = sched.scale_model_input(x.clone(), i)?;
//!       let eps = model(input, sched.timesteps()[i]);
//!       x = sched.step(&mut state, i, eps, x, noise_i)?;   // noise_i: Option<Tensor<4>>
//!   }
//!   ```
//! * Every step is burn tensor ops on `sample`, `model_output` (and the stored
//!   history / given noise), so autodiff flows through it. Without `clip_sample` each
//!   step is linear, and [`Scheduler::step_coefficients`] returns
//!   prev = a·sample + b·model_output + h·history + c·noise ([`StepCoeffs`]).
//! * Mutable state — DPM-Solver's previous data prediction and its order counter —
//!   lives in the caller's [`StepState`] (clonable; [`StepState::to_record`] is serde).
//! * Randomness is the caller's: stochastic steps (DDPM, Euler ancestral, DDIM η > 0)
//!   take standard normal `noise`.
//! * img2img: [`Scheduler::img2img_start`] (the pipeline's `get_timesteps`) and
//!   [`Scheduler::add_noise_at`]. Training: [`NoiseSchedule::add_noise`],
//!   [`NoiseSchedule::get_velocity`], [`NoiseSchedule::snr`] with per-sample timesteps.
//!
//! # Numerics
//! diffusers computes the training schedule (betas, ᾱ) in float32 torch, sigma
//! schedules partly in float64 numpy and partly float32, and the step arithmetic in
//! float32 tensors. We replay the schedule construction with the same float32/float64
//! roundings on the host ([`betas`], [`spacing`], [`sigmas`]), so timesteps are
//! identical and schedule floats agree to float32 rounding; step coefficients are then
//! folded in f64 and applied as scalars to the (usually f32) tensors, which differs from
//! diffusers' op-by-op float32 evaluation only by float32 rounding.
//!
//! # Not implemented (rejected with an error naming the field)
//! Dynamic thresholding, DDPM learned variances, Euler `s_churn` and exponential/beta
//! sigmas and `log_linear` interpolation, SDE / third-order DPM-Solver variants,
//! flow-match dynamic shifting and its Karras/exponential/beta sigmas.

pub mod betas;
pub mod coeffs;
pub mod config;
pub mod ddim;
pub mod ddpm;
pub mod dpm_solver;
pub mod error;
pub mod euler;
pub mod euler_ancestral;
pub mod flow_match;
pub mod img2img;
pub mod names;
pub mod prediction;
mod sampler;
pub mod scheduler;
pub mod sigmas;
pub mod spacing;
pub mod state;
pub mod training;

pub use betas::{BetaConfig, BetaSchedule, NoiseSchedule};
pub use coeffs::StepCoeffs;
pub use config::{SchedulerConfig, SchedulerKind};
pub use error::{ConfigError, SchedulerError};
pub use names::{SAMPLER_NAMES, SamplerName};
pub use prediction::PredictionType;
pub use scheduler::Scheduler;
pub use spacing::TimestepSpacing;
pub use state::{StepState, StepStateRecord};
