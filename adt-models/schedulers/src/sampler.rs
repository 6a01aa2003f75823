//! The crate-private interface every scheduler implements; [`crate::Scheduler`]
//! dispatches to it and does the argument checks once.

use burn::Tensor;

use crate::coeffs::StepCoeffs;
use crate::error::Result;
use crate::state::StepState;

pub(crate) trait Sampler {
    /// diffusers class name, for messages.
    fn name(&self) -> &'static str;
    /// The requested number of inference steps.
    fn num_inference_steps(&self) -> usize;
    /// Inference timesteps, in the order they are taken.
    fn timesteps(&self) -> &[f64];
    /// Sigma per step plus the final one (`len = steps + 1`), for sigma-space samplers.
    fn sigmas(&self) -> Option<&[f64]> {
        None
    }
    fn init_noise_sigma(&self) -> f64 {
        1.0
    }
    /// `scale_model_input` factor at step `i`.
    fn input_scale(&self, _i: usize) -> f64 {
        1.0
    }
    /// (a, b) with `noisy = a·x0 + b·noise` at the input of step `i` (img2img start).
    fn noise_scales(&self, i: usize) -> (f64, f64);
    /// Coefficient of the caller's noise in step `i` (0 for deterministic steps).
    fn noise_coefficient(&self, i: usize) -> f64;
    /// The step as a linear map, if it is one.
    fn coeffs(&self, i: usize, state: &StepState) -> Result<StepCoeffs>;
    /// One step; the default applies [`Sampler::coeffs`].
    fn step(
        &self,
        state: &mut StepState,
        i: usize,
        model_output: Tensor<4>,
        sample: Tensor<4>,
        noise: Option<Tensor<4>>,
    ) -> Result<Tensor<4>> {
        let c = self.coeffs(i, state)?;
        Ok(c.apply(sample, model_output, None, noise))
    }
}
