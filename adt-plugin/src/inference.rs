//! Simulated inference with the backward-flow constraint [paper].
//!
//! From the image-to-image start level, the deployment sampler runs to `t = 0` on the model's own
//! predictions. With the constraint on:
//! - every step's network input is `sg(x_i)` (detached), so no gradient leaves the network into
//!   its input — no products of network Jacobians;
//! - only the selected steps `S` (K of them) run the trainable network with a graph; the others
//!   run a `no_grad()` copy, so memory holds ~K network graphs whatever `m` is;
//! - the linear path `x_{i+1} = a_i·x_i + b_i·ε̂_i` stays differentiable (or is detached, a knob).
//!
//! With the constraint off (ablation/benchmark), every step runs with a graph and with its input
//! attached: full backpropagation through the sampling chain. Classifier-free guidance, when
//! configured, is applied inside the loop at every step (one batched uncond+cond call).

use burn::prelude::*;

use crate::config::{KPolicy, SkipPath, StartPolicy};
use crate::metrics::StepMetrics;
use crate::rng::EngineRng;
use crate::traits::{CondPair, Conditioning, Denoiser, Sampler, SamplerHistory};

/// Which steps one simulated trajectory executes and which of them keep a graph.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimulationPlan {
    /// Sampling steps m.
    pub m: usize,
    /// First executed step index (`m − s` for start index s ∈ {1..m}).
    pub first: usize,
    /// Step indices (in `first..m`) that run with a graph, sorted.
    pub graph_steps: Vec<usize>,
}

impl SimulationPlan {
    /// Draw a start index by `start` and K graph steps by `k_policy` (K is capped by the number of
    /// executed steps).
    pub fn draw(
        m: usize,
        k: usize,
        start: StartPolicy,
        k_policy: KPolicy,
        rng: &mut EngineRng,
    ) -> Self {
        assert!(m >= 1, "SimulationPlan: m must be >= 1");
        let s = match start {
            StartPolicy::Uniform => rng.int_inclusive(1, m as i64) as usize,
            StartPolicy::Full => m,
            StartPolicy::Refine => rng.int_inclusive(1, (m as i64 - 1).max(1)) as usize,
        };
        let first = m - s;
        let k = k.min(s);
        let graph_steps = match k_policy {
            KPolicy::Random => rng
                .choose_sorted(s, k)
                .into_iter()
                .map(|i| i + first)
                .collect(),
            KPolicy::Last => (m - k..m).collect(),
        };
        Self {
            m,
            first,
            graph_steps,
        }
    }

    /// A plan that runs all `m` steps from the noisiest level without any graph (sampling).
    pub fn sampling(m: usize) -> Self {
        Self {
            m,
            first: 0,
            graph_steps: Vec::new(),
        }
    }

    /// Start index s (number of executed steps).
    pub fn start_index(&self) -> usize {
        self.m - self.first
    }

    /// Executed step indices.
    pub fn executed(&self) -> std::ops::Range<usize> {
        self.first..self.m
    }

    /// Write the plan's start index and first graph step into the step's metrics (which steps
    /// the adversarial gradient trains depends on both; see `docs/shapes-report.md`).
    pub fn record(&self, m: &mut StepMetrics) {
        m.start_s = Some(self.start_index() as f64);
        m.graph_step = self.graph_steps.first().map(|&i| i as f64);
    }
}

/// How the trajectory is differentiated and guided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulationOptions {
    /// Backward-flow constraint on (stop-gradient inputs, graphs only on the plan's steps).
    pub constraint: bool,
    /// Linear skip path differentiable or detached.
    pub skip_path: SkipPath,
    /// CFG scale; `1` = no guidance.
    pub cfg_scale: f32,
}

/// Model output with classifier-free guidance when `cfg_scale > 1`.
pub fn guided_prediction<G: Denoiser>(
    model: &G,
    x: Tensor<4>,
    timestep: f32,
    cond: &CondPair,
    cfg_scale: f32,
) -> Tensor<4> {
    let b = x.dims()[0];
    let device = x.device();
    if cfg_scale > 1.0 {
        let uncond = cond
            .uncond
            .as_ref()
            .expect("cfg_scale > 1 needs an unconditional condition (CondPair::uncond)");
        let t = Tensor::<1>::full([2 * b], timestep, &device);
        let c2 = Conditioning::cat(uncond, &cond.cond);
        let out = model.forward(Tensor::cat(vec![x.clone(), x], 0), t, &c2);
        let u = out.clone().narrow(0, 0, b);
        let c = out.narrow(0, b, b);
        u.clone() + (c - u).mul_scalar(cfg_scale)
    } else {
        let t = Tensor::<1>::full([b], timestep, &device);
        model.forward(x, t, &cond.cond)
    }
}

/// Run the sampler from `x_start` (at level `plan.first`) to the clean sample.
///
/// `trainable` is the generator; `frozen` a `no_grad()` copy of it used for the steps without a
/// graph (pass the same model twice when nothing needs a graph).
pub fn simulate<G: Denoiser>(
    trainable: &G,
    frozen: &G,
    sampler: &dyn Sampler,
    x_start: Tensor<4>,
    cond: &CondPair,
    plan: &SimulationPlan,
    opts: &SimulationOptions,
) -> Tensor<4> {
    let m = plan.m;
    let timesteps = sampler.timesteps(m);
    assert_eq!(
        timesteps.len(),
        m,
        "Sampler::timesteps({m}) returned {} levels",
        timesteps.len()
    );
    let mut history = SamplerHistory::default();
    let mut x = x_start;
    for i in plan.executed() {
        let with_graph = !opts.constraint || plan.graph_steps.contains(&i);
        let x_in = if opts.constraint {
            x.clone().detach()
        } else {
            x.clone()
        };
        let x_in = sampler.scale_model_input(m, i, x_in);
        let model: &G = if with_graph { trainable } else { frozen };
        let out = guided_prediction(model, x_in, timesteps[i], cond, opts.cfg_scale);
        let x_path = match opts.skip_path {
            SkipPath::Differentiable => x,
            SkipPath::Detached => x.detach(),
        };
        x = sampler.step(m, i, x_path, out, &mut history);
    }
    x
}
