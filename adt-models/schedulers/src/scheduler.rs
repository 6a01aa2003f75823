//! [`Scheduler`]: an immutable schedule for n inference steps, built from a config,
//! stepped one index at a time with caller-held [`StepState`].

use std::path::Path;

use burn::Tensor;

use crate::coeffs::StepCoeffs;
use crate::config::{SchedulerConfig, SchedulerKind};
use crate::ddim::Ddim;
use crate::ddpm::Ddpm;
use crate::dpm_solver::DpmSolver;
use crate::error::{Result, SchedulerError};
use crate::euler::Euler;
use crate::euler_ancestral::EulerAncestral;
use crate::flow_match::FlowMatchEuler;
use crate::sampler::Sampler;
use crate::state::StepState;

/// One of the implemented samplers, set to a number of inference steps.
#[derive(Debug, Clone)]
pub enum Scheduler {
    Ddpm(Ddpm),
    Ddim(Ddim),
    EulerDiscrete(Euler),
    EulerAncestralDiscrete(EulerAncestral),
    DpmSolverMultistep(DpmSolver),
    FlowMatchEulerDiscrete(FlowMatchEuler),
}

impl Scheduler {
    /// diffusers' `Class.from_config(cfg)` + `set_timesteps(num_inference_steps)`.
    pub fn new(config: &SchedulerConfig, num_inference_steps: usize) -> Result<Self> {
        let n = num_inference_steps;
        Ok(match config.clone() {
            SchedulerConfig::Ddpm(c) => Self::Ddpm(Ddpm::new(c, n)?),
            SchedulerConfig::Ddim(c) => Self::Ddim(Ddim::new(c, n)?),
            SchedulerConfig::EulerDiscrete(c) => Self::EulerDiscrete(Euler::new(c, n)?),
            SchedulerConfig::EulerAncestralDiscrete(c) => {
                Self::EulerAncestralDiscrete(EulerAncestral::new(c, n)?)
            }
            SchedulerConfig::DpmSolverMultistep(c) => {
                Self::DpmSolverMultistep(DpmSolver::new(c, n)?)
            }
            SchedulerConfig::FlowMatchEulerDiscrete(c) => {
                Self::FlowMatchEulerDiscrete(FlowMatchEuler::new(c, n)?)
            }
        })
    }

    /// Reads `scheduler_config.json` (class from `_class_name`) and sets `n` steps.
    pub fn from_file(path: impl AsRef<Path>, num_inference_steps: usize) -> Result<Self> {
        Self::new(&SchedulerConfig::from_file(path)?, num_inference_steps)
    }

    /// DDIM's η. Any other scheduler: error (their noise is fixed by the method).
    pub fn with_eta(self, eta: f64) -> Result<Self> {
        match self {
            Self::Ddim(d) => Ok(Self::Ddim(d.with_eta(eta))),
            other => Err(SchedulerError::Option {
                option: "eta",
                scheduler: other.inner().name(),
            }),
        }
    }

    fn inner(&self) -> &dyn Sampler {
        match self {
            Self::Ddpm(s) => s,
            Self::Ddim(s) => s,
            Self::EulerDiscrete(s) => s,
            Self::EulerAncestralDiscrete(s) => s,
            Self::DpmSolverMultistep(s) => s,
            Self::FlowMatchEulerDiscrete(s) => s,
        }
    }

    pub fn kind(&self) -> SchedulerKind {
        match self {
            Self::Ddpm(_) => SchedulerKind::Ddpm,
            Self::Ddim(_) => SchedulerKind::Ddim,
            Self::EulerDiscrete(_) => SchedulerKind::EulerDiscrete,
            Self::EulerAncestralDiscrete(_) => SchedulerKind::EulerAncestralDiscrete,
            Self::DpmSolverMultistep(_) => SchedulerKind::DpmSolverMultistep,
            Self::FlowMatchEulerDiscrete(_) => SchedulerKind::FlowMatchEulerDiscrete,
        }
    }

    /// The timestep fed to the model at each step, in order. Integer-valued for the
    /// DDPM family and DPM-Solver; float32 values for Euler (Karras) and flow matching.
    pub fn timesteps(&self) -> &[f64] {
        self.inner().timesteps()
    }

    /// Number of steps (`len(timesteps)`; equals the requested count except where
    /// diffusers' numpy spacing yields one more, e.g. trailing with n = 61).
    pub fn len(&self) -> usize {
        self.timesteps().len()
    }

    pub fn is_empty(&self) -> bool {
        self.timesteps().is_empty()
    }

    /// Per-step sigmas plus the final one (`len() + 1` values) for Euler, Euler
    /// ancestral, DPM-Solver and flow matching; `None` for DDPM/DDIM.
    pub fn sigmas(&self) -> Option<&[f64]> {
        self.inner().sigmas()
    }

    /// Scale of the initial noise for text-to-image (`init_noise_sigma`).
    pub fn init_noise_sigma(&self) -> f64 {
        self.inner().init_noise_sigma()
    }

    /// diffusers' `order` (1 for every scheduler here, DPM-Solver included).
    pub fn order(&self) -> usize {
        1
    }

    /// Factor `scale_model_input` applies at step `i` (1/√(σ²+1) for Euler types, else 1).
    pub fn input_scale(&self, i: usize) -> Result<f64> {
        self.check_index(i)?;
        Ok(self.inner().input_scale(i))
    }

    /// `scale_model_input(sample, t_i)`: what the model sees at step `i`.
    pub fn scale_model_input(&self, sample: Tensor<4>, i: usize) -> Result<Tensor<4>> {
        let k = self.input_scale(i)?;
        Ok(if k == 1.0 {
            sample
        } else {
            sample.mul_scalar(k)
        })
    }

    /// Whether step `i` adds fresh noise (DDPM, Euler ancestral, DDIM with η > 0), i.e.
    /// whether [`Self::step`] needs its `noise` argument there.
    pub fn needs_noise(&self, i: usize) -> Result<bool> {
        self.check_index(i)?;
        Ok(self.inner().noise_coefficient(i) != 0.0)
    }

    /// (a, b) with `x_i = a·x0 + b·noise`: the noise level of step `i`'s input.
    pub fn noise_scales(&self, i: usize) -> Result<(f64, f64)> {
        self.check_index(i)?;
        Ok(self.inner().noise_scales(i))
    }

    /// img2img start: noises `original` to the input level of step `i` exactly like
    /// the pipelines do (`add_noise` at `timesteps[i]`, or `scale_noise` for flow).
    pub fn add_noise_at(
        &self,
        original: Tensor<4>,
        noise: Tensor<4>,
        i: usize,
    ) -> Result<Tensor<4>> {
        let (a, b) = self.noise_scales(i)?;
        check_shape(i, "noise", &noise, &original)?;
        Ok(original.mul_scalar(a) + noise.mul_scalar(b))
    }

    /// `StableDiffusionImg2ImgPipeline.get_timesteps`: index of the first step for
    /// `strength` in [0, 1] (`len()` when strength rounds to zero steps).
    pub fn img2img_start(&self, strength: f64) -> Result<usize> {
        crate::img2img::start_index(self.num_inference_steps(), strength, self.order())
    }

    /// [`Self::img2img_start`] with SD3's rule (`n·strength` kept fractional; see
    /// [`crate::img2img::start_index_fractional`]).
    pub fn img2img_start_fractional(&self, strength: f64) -> Result<usize> {
        crate::img2img::start_index_fractional(self.num_inference_steps(), strength, self.order())
    }

    /// The step count asked for; the pipelines index `timesteps()` with it.
    pub fn num_inference_steps(&self) -> usize {
        self.inner().num_inference_steps()
    }

    /// The step as a linear map (see [`StepCoeffs`]); `state` matters for DPM-Solver
    /// (first vs second order). Error for a non-linear step (`clip_sample`).
    pub fn step_coefficients(&self, state: &StepState, i: usize) -> Result<StepCoeffs> {
        self.check_index(i)?;
        self.inner().coeffs(i, state)
    }

    /// One sampler step from index `i`: `sample` is the current (unscaled) sample,
    /// `model_output` the model's prediction at `timesteps()[i]`, `noise` standard
    /// normal noise, required where the step adds noise. Differentiable (burn ops only).
    pub fn step(
        &self,
        state: &mut StepState,
        i: usize,
        model_output: Tensor<4>,
        sample: Tensor<4>,
        noise: Option<Tensor<4>>,
    ) -> Result<Tensor<4>> {
        self.check_index(i)?;
        check_shape(i, "model_output", &model_output, &sample)?;
        let c = self.inner().noise_coefficient(i);
        let noise = match noise {
            Some(z) => {
                check_shape(i, "noise", &z, &sample)?;
                Some(z)
            }
            None if c != 0.0 => {
                return Err(SchedulerError::MissingNoise {
                    scheduler: self.inner().name(),
                    index: i,
                    coefficient: c,
                });
            }
            None => None,
        };
        let prev = self.inner().step(state, i, model_output, sample, noise)?;
        state.steps_taken += 1;
        Ok(prev)
    }

    fn check_index(&self, i: usize) -> Result<()> {
        if i >= self.len() {
            return Err(SchedulerError::IndexOutOfRange {
                index: i,
                len: self.len(),
            });
        }
        Ok(())
    }
}

fn check_shape(i: usize, what: &'static str, t: &Tensor<4>, sample: &Tensor<4>) -> Result<()> {
    if t.dims() != sample.dims() {
        return Err(SchedulerError::Shape {
            index: i,
            what,
            got: t.dims().to_vec(),
            expected: sample.dims().to_vec(),
        });
    }
    Ok(())
}
