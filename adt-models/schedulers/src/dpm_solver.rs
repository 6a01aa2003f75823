//! DPM-Solver++ multistep (`DPMSolverMultistepScheduler`, algorithm_type
//! `dpmsolver++`, solver_order 1 or 2 — "DPM++ 2M"; Lu et al. 2022).
//!
//! In λ = log(α/σ) with α = 1/√(σ²+1), σ_t = σ·α (σ the schedule's sigma), each
//! step converts the model output to a data prediction m = x̂0, then
//! first order:  x = (σ_t/σ_s)·x_s − α_t(e^{−h}−1)·m0,
//! second order: x = (σ_t/σ_s0)·x_s − α_t(e^{−h}−1)·D0 − ½α_t(e^{−h}−1)·D1 (midpoint)
//! with D0 = m0, D1 = (m0 − m1)/r0, r0 = h_0/h. m1, the previous step's data
//! prediction, lives in the caller's [`StepState`].

use burn::Tensor;

use crate::betas::{BetaSchedule, NoiseSchedule};
use crate::coeffs::StepCoeffs;
use crate::config::{DpmSolverConfig, DpmSolverType, FinalSigmasType};
use crate::error::{Result, SchedulerError};
use crate::euler::final_sigma;
use crate::prediction::{Linear2, vp_estimates};
use crate::sampler::Sampler;
use crate::sigmas::{karras, log_sigmas_f32, sigma_to_t};
use crate::spacing::dpm_timesteps;
use crate::state::StepState;

#[derive(Debug, Clone)]
pub struct DpmSolver {
    pub config: DpmSolverConfig,
    pub schedule: NoiseSchedule,
    timesteps: Vec<f64>,
    num_inference_steps: usize,
    sigmas: Vec<f64>,
}

/// x = sample·x_s + m0·x̂0(current) + m1·x̂0(previous).
struct Update {
    sample: f64,
    m0: f64,
    m1: f64,
    second_order: bool,
}

impl DpmSolver {
    pub fn new(config: DpmSolverConfig, n: usize) -> Result<Self> {
        let num_train = config.betas.num_train_timesteps;
        if n == 0 || n > num_train {
            return Err(SchedulerError::InferenceSteps {
                requested: n,
                max: num_train,
            });
        }
        let schedule = NoiseSchedule::new_sigma_safe(&config.betas);
        // lambda_min_clipped: searchsorted(flip(λ_t), λ_min) in float32.
        let clipped = schedule
            .alphas_cumprod
            .iter()
            .filter(|&&a| {
                ((a.sqrt()).ln() - (1.0 - a).sqrt().ln()) < config.lambda_min_clipped as f32
            })
            .count();
        let last_timestep = num_train - clipped;
        let train_sigmas = schedule.train_sigmas_f32();
        let mut sigmas: Vec<f64>;
        let timesteps: Vec<f64>;
        if config.use_karras_sigmas {
            let lo = train_sigmas[0] as f64;
            let hi = train_sigmas[num_train - 1] as f64;
            sigmas = karras(lo, hi, n);
            let log_sigmas = log_sigmas_f32(&train_sigmas);
            let round = config.betas.beta_schedule != BetaSchedule::SquaredcosCapV2;
            timesteps = sigmas
                .iter()
                .map(|&s| {
                    let t = sigma_to_t(s, &log_sigmas);
                    // `.round()` (numpy, half to even) unless squaredcos, then astype(int64).
                    (if round { t.round_ties_even() } else { t }).trunc()
                })
                .collect();
        } else {
            let ts = dpm_timesteps(
                config.timestep_spacing,
                n,
                num_train,
                last_timestep,
                config.steps_offset,
            );
            sigmas = ts
                .iter()
                .map(|&t| train_sigmas[t as usize] as f64)
                .collect();
            timesteps = ts.iter().map(|&t| t as f64).collect();
        }
        sigmas.push(final_sigma(config.final_sigmas_type, &schedule));
        let sigmas = sigmas.into_iter().map(|s| s as f32 as f64).collect();
        Ok(Self {
            num_inference_steps: n,
            config,
            schedule,
            timesteps,
            sigmas,
        })
    }

    /// (α_t, σ_t, λ_t) for a schedule sigma.
    fn alpha_sigma_lambda(sigma: f64) -> (f64, f64, f64) {
        let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
        let s = sigma * alpha;
        (alpha, s, alpha.ln() - s.ln())
    }

    /// Data prediction x̂0 at step `i` as a map of (sample, model_output).
    fn x0_map(&self, i: usize) -> Linear2 {
        let (alpha, sigma, _) = Self::alpha_sigma_lambda(self.sigmas[i]);
        vp_estimates(self.config.prediction_type, alpha, sigma).0
    }

    fn lower_order_final(&self, i: usize) -> bool {
        let len = self.timesteps.len();
        i == len - 1
            && (self.config.euler_at_final
                || (self.config.lower_order_final && len < 15)
                || self.config.final_sigmas_type == FinalSigmasType::Zero)
    }

    fn update(&self, i: usize, lower_order_nums: usize) -> Update {
        let (alpha_t, sigma_t, lambda_t) = Self::alpha_sigma_lambda(self.sigmas[i + 1]);
        let (_, sigma_s0, lambda_s0) = Self::alpha_sigma_lambda(self.sigmas[i]);
        let h = lambda_t - lambda_s0;
        let k = -alpha_t * ((-h).exp() - 1.0);
        // σ_t = 0 (final sigma zero) gives h = ∞: the step returns x̂0 itself.
        let sample = sigma_t / sigma_s0;
        let first =
            self.config.solver_order == 1 || lower_order_nums < 1 || self.lower_order_final(i);
        if first {
            return Update {
                sample,
                m0: k,
                m1: 0.0,
                second_order: false,
            };
        }
        let (_, _, lambda_s1) = Self::alpha_sigma_lambda(self.sigmas[i - 1]);
        let r0 = (lambda_s0 - lambda_s1) / h;
        // D1 weight: ½k (midpoint) or α_t((e^{−h}−1)/h + 1) (heun).
        let d1 = match self.config.solver_type {
            DpmSolverType::Midpoint => 0.5 * k,
            DpmSolverType::Heun => alpha_t * (((-h).exp() - 1.0) / h + 1.0),
        };
        Update {
            sample,
            m0: k + d1 / r0,
            m1: -d1 / r0,
            second_order: true,
        }
    }

    fn check_history(&self, i: usize, state: &StepState, u: &Update) -> Result<()> {
        if !u.second_order {
            return Ok(());
        }
        match &state.history {
            Some((held, _)) if *held + 1 == i => Ok(()),
            Some((held, _)) => Err(SchedulerError::History {
                index: i,
                held: *held,
                needed: i.wrapping_sub(1),
            }),
            None => Err(SchedulerError::History {
                index: i,
                held: usize::MAX,
                needed: i.wrapping_sub(1),
            }),
        }
    }
}

impl Sampler for DpmSolver {
    fn name(&self) -> &'static str {
        "DPMSolverMultistepScheduler"
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

    fn noise_scales(&self, i: usize) -> (f64, f64) {
        let (alpha, sigma, _) = Self::alpha_sigma_lambda(self.sigmas[i]);
        (alpha, sigma)
    }

    fn noise_coefficient(&self, _i: usize) -> f64 {
        0.0
    }

    fn coeffs(&self, i: usize, state: &StepState) -> Result<StepCoeffs> {
        let u = self.update(i, state.lower_order_nums);
        self.check_history(i, state, &u)?;
        let x0 = self.x0_map(i);
        Ok(StepCoeffs {
            sample: u.sample + u.m0 * x0.sample,
            model_output: u.m0 * x0.model_output,
            history: u.m1,
            noise: 0.0,
        })
    }

    fn step(
        &self,
        state: &mut StepState,
        i: usize,
        model_output: Tensor<4>,
        sample: Tensor<4>,
        _noise: Option<Tensor<4>>,
    ) -> Result<Tensor<4>> {
        let u = self.update(i, state.lower_order_nums);
        self.check_history(i, state, &u)?;
        let x0 = self.x0_map(i);
        let m0 = sample.clone().mul_scalar(x0.sample) + model_output.mul_scalar(x0.model_output);
        let mut prev = sample.mul_scalar(u.sample) + m0.clone().mul_scalar(u.m0);
        if u.second_order
            && let Some((_, m1)) = &state.history
        {
            prev = prev + m1.clone().mul_scalar(u.m1);
        }
        state.history = Some((i, m0));
        state.lower_order_nums = (state.lower_order_nums + 1).min(self.config.solver_order);
        Ok(prev)
    }
}
