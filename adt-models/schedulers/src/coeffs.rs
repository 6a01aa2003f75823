//! The linear form of one sampler step.

use burn::Tensor;

/// One step as a linear map:
/// `prev = sample·x_t + model_output·ε̂ + history·h + noise·z`.
///
/// `history` multiplies the previous step's *data prediction* x̂0 (DPM-Solver++
/// multistep; zero elsewhere); `noise` multiplies caller-provided standard normal
/// noise (DDPM, Euler ancestral, DDIM with eta > 0; zero elsewhere). The values are
/// f64, computed on the host from the schedule constants; the engine can use them to
/// reason about the sampler path (∂prev/∂ε̂ = `model_output`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepCoeffs {
    pub sample: f64,
    pub model_output: f64,
    pub history: f64,
    pub noise: f64,
}

impl StepCoeffs {
    /// Applies the coefficients with burn ops (differentiable in every tensor).
    /// `history` / `noise` are only read when their coefficient is non-zero.
    pub fn apply(
        &self,
        sample: Tensor<4>,
        model_output: Tensor<4>,
        history: Option<Tensor<4>>,
        noise: Option<Tensor<4>>,
    ) -> Tensor<4> {
        let mut prev = sample.mul_scalar(self.sample) + model_output.mul_scalar(self.model_output);
        if self.history != 0.0
            && let Some(h) = history
        {
            prev = prev + h.mul_scalar(self.history);
        }
        if self.noise != 0.0
            && let Some(z) = noise
        {
            prev = prev + z.mul_scalar(self.noise);
        }
        prev
    }
}
