//! Losses of the method: hinge D loss, generator adversarial loss, R1 on the heads' inputs, and
//! `L_diff` for ε / v / flow-matching targets.

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::rng::EngineRng;
use crate::traits::{NoiseLevel, Prediction};

/// Hinge D loss: `mean relu(1 − D(real)) + mean relu(1 + D(fake))` over all logits.
pub fn d_hinge(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
    relu(real_logits.neg().add_scalar(1.0)).mean() + relu(fake_logits.add_scalar(1.0)).mean()
}

/// Generator adversarial loss `−mean D(fake)`.
pub fn g_adversarial(fake_logits: Tensor<2>) -> Tensor<1> {
    fake_logits.mean().neg()
}

/// Sign accuracy: fraction of real logits > 0 and fake logits < 0, over both sets.
pub fn sign_accuracy(real: &[f32], fake: &[f32]) -> f64 {
    let ok = real.iter().filter(|v| **v > 0.0).count() + fake.iter().filter(|v| **v < 0.0).count();
    ok as f64 / (real.len() + fake.len()).max(1) as f64
}

/// `x_t = α·x0 + σ·ε` with per-sample α, σ.
pub fn add_noise(x0: Tensor<4>, noise: Tensor<4>, levels: &[NoiseLevel]) -> Tensor<4> {
    let (a, s) = coeffs(levels, &x0.device());
    x0 * a + noise * s
}

fn coeffs(levels: &[NoiseLevel], device: &Device) -> (Tensor<4>, Tensor<4>) {
    let b = levels.len();
    let a: Vec<f32> = levels.iter().map(|l| l.alpha).collect();
    let s: Vec<f32> = levels.iter().map(|l| l.sigma).collect();
    (
        Tensor::from_data(TensorData::new(a, [b, 1, 1, 1]), device),
        Tensor::from_data(TensorData::new(s, [b, 1, 1, 1]), device),
    )
}

/// Regression target of `L_diff`: ε; v = α·ε − σ·x0; or flow velocity ε − x0.
pub fn diffusion_target(
    prediction: Prediction,
    x0: Tensor<4>,
    noise: Tensor<4>,
    levels: &[NoiseLevel],
) -> Tensor<4> {
    match prediction {
        Prediction::Epsilon => noise,
        Prediction::V => {
            let (a, s) = coeffs(levels, &x0.device());
            noise * a - x0 * s
        }
        Prediction::Flow => noise - x0,
    }
}

/// The clean sample a flow velocity implies, `x_σ − σ·v̂` per sample (diffusers'
/// `precondition_outputs`: `model_pred * (-sigmas) + noisy_model_input`).
pub fn flow_x0(x_t: Tensor<4>, velocity: Tensor<4>, levels: &[NoiseLevel]) -> Tensor<4> {
    let (_, s) = coeffs(levels, &x_t.device());
    x_t - velocity * s
}

/// `L_diff = mean (pred − target)²` (unweighted, as in diffusers' and SD3's training scripts).
pub fn diffusion_loss(pred: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (pred - target).powi_scalar(2).mean()
}

/// `L_diff` with per-sample weights `[B]`: `mean_b(w_b · mean_chw (pred − target)²)`, as the
/// SD3 training scripts reduce `weighting · (pred − target)²`. `LossWeighting::None` goes
/// through [`diffusion_loss`] instead (no multiply by ones).
pub fn weighted_diffusion_loss(pred: Tensor<4>, target: Tensor<4>, weights: &[f32]) -> Tensor<1> {
    let b = weights.len();
    let w = Tensor::<4>::from_data(
        TensorData::new(weights.to_vec(), [b, 1, 1, 1]),
        &pred.device(),
    );
    ((pred - target).powi_scalar(2) * w).mean()
}

/// How the training fraction u ∈ (0,1) of `L_diff` is drawn (diffusers'
/// `compute_density_for_timestep_sampling`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Density {
    /// u uniform.
    Uniform,
    /// u = sigmoid(mean + std·n), n standard normal.
    LogitNormal { mean: f64, std: f64 },
    /// u = 1 − v − scale·(cos²(πv/2) − 1 + v), v uniform.
    Mode { scale: f64 },
}

impl Density {
    /// u for one `draw`: a standard-uniform draw (uniform, mode) or a standard-normal one
    /// (logit-normal).
    pub fn fraction(self, draw: f64) -> f64 {
        match self {
            Density::Uniform => draw,
            Density::LogitNormal { mean, std } => 1.0 / (1.0 + (-(mean + std * draw)).exp()),
            Density::Mode { scale } => {
                let c = (std::f64::consts::PI * draw / 2.0).cos();
                1.0 - draw - scale * (c * c - 1.0 + draw)
            }
        }
    }
}

/// Draw the training fraction u ∈ (0,1) of `density` from `rng` (one draw per sample).
pub fn training_fraction(rng: &mut EngineRng, density: Density) -> f64 {
    let draw = match density {
        Density::LogitNormal { .. } => rng.normal(),
        Density::Uniform | Density::Mode { .. } => rng.uniform(),
    };
    density.fraction(draw)
}

/// R1 penalty `γ/2 · E_b ‖∇_{f_b} Σ D(f)‖²` on the heads' inputs `f`, estimated with first-order
/// autodiff only.
///
/// burn 0.22 has no double backward, so the exact penalty (which differentiates a gradient) is
/// not available. We use the Hutchinson identity `E_δ[(∇S·δ)²] = ‖∇S‖²` (δ ~ N(0, I)) with the
/// directional derivative taken by a central difference
/// `∇S·δ ≈ (S(f + hδ) − S(f − hδ)) / 2h`, which is differentiable w.r.t. the head parameters.
/// The estimate is unbiased up to the O(h²) difference error and has Hutchinson variance;
/// `probes` independent δ are averaged. It is exact for a D that is linear in `f`.
///
/// `score` maps head inputs (one tensor per head) to the logits `[B, T]`; `probes_noise` supplies
/// one δ per head per probe.
pub fn r1_penalty<F>(
    score: F,
    inputs: &[Tensor<3>],
    gamma: f64,
    h: f64,
    probes_noise: &[Vec<Tensor<3>>],
) -> Tensor<1>
where
    F: Fn(&[Tensor<3>]) -> Tensor<2>,
{
    let b = inputs[0].dims()[0] as f64;
    let mut total: Option<Tensor<1>> = None;
    for deltas in probes_noise {
        let shifted = |sign: f64| -> Vec<Tensor<3>> {
            inputs
                .iter()
                .zip(deltas)
                .map(|(f, d)| f.clone() + d.clone().mul_scalar(sign * h))
                .collect()
        };
        let plus = score(&shifted(1.0)).sum();
        let minus = score(&shifted(-1.0)).sum();
        let dir = (plus - minus).div_scalar(2.0 * h);
        let sq = dir.powi_scalar(2);
        total = Some(match total {
            Some(t) => t + sq,
            None => sq,
        });
    }
    let n = probes_noise.len().max(1) as f64;
    total
        .expect("r1_penalty needs at least one probe")
        .mul_scalar(gamma / 2.0 / b / n)
}
