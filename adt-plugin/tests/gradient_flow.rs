//! The backward-flow constraint, instrumented:
//! - the generator receives a non-zero adversarial gradient through the whole path;
//! - no gradient reaches any step input through the network (the start latent's gradient is
//!   exactly the product of the linear skip coefficients);
//! - only the selected steps contribute to θ's gradient (per-step gates);
//! - the same checks fail as they should with the constraint off.

use adt_plugin::augment::AugmentDraws;
use adt_plugin::config::SkipPath;
use adt_plugin::grads::global_norm;
use adt_plugin::inference::{SimulationOptions, SimulationPlan, simulate};
use adt_plugin::model::AdtBatch;
use adt_plugin::rng::EngineRng;
use adt_plugin::step::{generate, generator_adversarial_loss};
use adt_plugin::toy::{LinearDdim, ToyConditioner, ToyDenoiser, ToyParts, ToySizes, toy_config};
use adt_plugin::traits::{CondPair, Conditioner, Conditioning, Denoiser, Prediction};
use burn::module::Param;
use burn::optim::GradientsParams;
use burn::prelude::*;

fn dev() -> Device {
    Device::flex().autodiff()
}

/// The toy denoiser with a trainable gain per sampling step: `out = inner(x) · gain[step(t)]`.
/// A gain's gradient is non-zero iff that step's prediction reaches the loss with a graph.
#[derive(Module, Debug)]
struct GatedDenoiser {
    inner: ToyDenoiser,
    gains: Param<Tensor<1>>,
    #[module(skip)]
    timesteps: Vec<f32>,
}

impl Denoiser for GatedDenoiser {
    fn prediction(&self) -> Prediction {
        Prediction::Epsilon
    }
    fn forward(&self, x: Tensor<4>, t: Tensor<1>, c: &Conditioning) -> Tensor<4> {
        let m = self.timesteps.len();
        let tv = t.clone().into_data().try_into_vec::<f32>().unwrap();
        let b = tv.len();
        let mut onehot = vec![0f32; b * m];
        for (i, tt) in tv.iter().enumerate() {
            let k = self
                .timesteps
                .iter()
                .position(|s| s == tt)
                .expect("timestep of the plan");
            onehot[i * m + k] = 1.0;
        }
        let oh = Tensor::<2>::from_data(TensorData::new(onehot, [b, m]), &x.device());
        let gain = oh
            .matmul(self.gains.val().unsqueeze_dim::<2>(1))
            .reshape([b, 1, 1, 1]);
        self.inner.forward(x, t, c) * gain
    }
}

struct Setup {
    generated: GatedDenoiser,
    ddim: LinearDdim,
    cond: CondPair,
    m: usize,
}

fn setup(m: usize) -> Setup {
    let d = dev();
    let mut rng = EngineRng::new(5);
    let ddim = LinearDdim::new(Prediction::Epsilon);
    use adt_plugin::traits::Sampler;
    let generated = GatedDenoiser {
        inner: ToyDenoiser::new(4, 8, 8, Prediction::Epsilon, &mut rng, &d),
        gains: Param::from_tensor(Tensor::ones([m], &d)),
        timesteps: ddim.timesteps(m),
    };
    let cond_model = ToyConditioner::new(16, 8, 4, &mut rng, &d).no_grad();
    let cond: Conditioning = cond_model
        .encode_text(&["red small square".into(), "blue large square".into()], &d)
        .into();
    Setup {
        generated,
        ddim,
        cond: CondPair { cond, uncond: None },
        m,
    }
}

/// Run the simulation from a leaf start latent, backprop `sum(x̂0)`, return (gain grads, start grad).
fn run(s: &Setup, plan: &SimulationPlan, opts: &SimulationOptions) -> (Vec<f32>, Option<Vec<f32>>) {
    let d = dev();
    let mut rng = EngineRng::new(9);
    let x_start = rng.normal_tensor([2, 4, 8, 8], &d).require_grad();
    let frozen = s.generated.clone().no_grad();
    let x0 = simulate(
        &s.generated,
        &frozen,
        &s.ddim,
        x_start.clone(),
        &s.cond,
        plan,
        opts,
    );
    let grads = x0.sum().backward();
    let gains = s
        .generated
        .gains
        .val()
        .grad(&grads)
        .map(|g| g.into_data().try_into_vec::<f32>().unwrap());
    let start = x_start
        .grad(&grads)
        .map(|g| g.into_data().try_into_vec::<f32>().unwrap());
    (gains.unwrap_or_else(|| vec![0.0; s.m]), start)
}

#[test]
fn only_selected_steps_contribute_and_no_gradient_enters_step_inputs() {
    let s = setup(6);
    let plan = SimulationPlan {
        m: 6,
        first: 1,
        graph_steps: vec![2, 4],
    };
    let opts = SimulationOptions {
        constraint: true,
        skip_path: SkipPath::Differentiable,
        cfg_scale: 1.0,
    };
    let (gains, start) = run(&s, &plan, &opts);
    for (i, g) in gains.iter().enumerate() {
        if plan.graph_steps.contains(&i) {
            assert!(
                g.abs() > 1e-6,
                "selected step {i} has no gradient: {gains:?}"
            );
        } else {
            assert_eq!(
                *g, 0.0,
                "unselected step {i} contributed a gradient: {gains:?}"
            );
        }
    }
    // With stop-gradient inputs the start latent is reached only by the linear skip path:
    // d x̂0 / d x_start = Π a_i over the executed steps, elementwise, exactly.
    let prod: f64 = plan
        .executed()
        .map(|i| s.ddim.eps_coefficients(6, i).0)
        .product();
    let start = start.expect("skip path differentiable: the start latent must get a gradient");
    for v in &start {
        assert!(
            (*v as f64 - prod).abs() < 1e-5 * prod.abs(),
            "gradient leaked into a step input: {v} vs {prod}"
        );
    }
}

#[test]
fn detached_skip_path_cuts_the_start_latent_off() {
    let s = setup(6);
    let plan = SimulationPlan {
        m: 6,
        first: 0,
        graph_steps: vec![5],
    };
    let opts = SimulationOptions {
        constraint: true,
        skip_path: SkipPath::Detached,
        cfg_scale: 1.0,
    };
    let (gains, start) = run(&s, &plan, &opts);
    assert!(
        gains[5].abs() > 1e-6,
        "last step must get a gradient: {gains:?}"
    );
    assert!(gains[..5].iter().all(|g| *g == 0.0), "{gains:?}");
    assert!(
        start.is_none_or(|v| v.iter().all(|x| *x == 0.0)),
        "start latent got a gradient"
    );
}

#[test]
fn without_the_constraint_every_step_and_the_input_path_carry_gradient() {
    // The instrument itself can fail: full backprop makes every executed step contribute and the
    // start gradient differs from the pure skip-path product.
    let s = setup(6);
    let plan = SimulationPlan {
        m: 6,
        first: 1,
        graph_steps: vec![2],
    };
    let opts = SimulationOptions {
        constraint: false,
        skip_path: SkipPath::Differentiable,
        cfg_scale: 1.0,
    };
    let (gains, start) = run(&s, &plan, &opts);
    for i in plan.executed() {
        assert!(
            gains[i].abs() > 1e-6,
            "step {i} should contribute without the constraint"
        );
    }
    assert_eq!(gains[0], 0.0, "step 0 is not executed");
    let prod: f64 = plan
        .executed()
        .map(|i| s.ddim.eps_coefficients(6, i).0)
        .product();
    let start = start.unwrap();
    let max_dev = start
        .iter()
        .map(|v| (*v as f64 - prod).abs())
        .fold(0.0, f64::max);
    assert!(
        max_dev > 1e-4,
        "network Jacobians should show up without the constraint"
    );
}

#[test]
fn cfg_inside_the_loop_keeps_the_constraint() {
    let mut s = setup(4);
    let d = dev();
    let mut rng = EngineRng::new(1);
    let uncond = ToyConditioner::new(16, 8, 4, &mut rng, &d)
        .no_grad()
        .encode_text(&[String::new(), String::new()], &d)
        .into();
    s.cond.uncond = Some(uncond);
    let plan = SimulationPlan {
        m: 4,
        first: 0,
        graph_steps: vec![1],
    };
    let opts = SimulationOptions {
        constraint: true,
        skip_path: SkipPath::Differentiable,
        cfg_scale: 3.0,
    };
    let (gains, start) = run(&s, &plan, &opts);
    assert!(
        gains[1].abs() > 1e-6 && gains.iter().enumerate().all(|(i, g)| i == 1 || *g == 0.0),
        "{gains:?}"
    );
    let prod: f64 = plan
        .executed()
        .map(|i| s.ddim.eps_coefficients(4, i).0)
        .product();
    assert!(
        start
            .unwrap()
            .iter()
            .all(|v| (*v as f64 - prod).abs() < 1e-5 * prod)
    );
}

#[test]
fn generator_receives_a_nonzero_adversarial_gradient() {
    let d = dev();
    let cfg = toy_config();
    let model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(cfg.clone(), &d)
        .unwrap();
    let loader = adt_plugin::toy::toy_loader(8, 16, 4, 0, &d);
    let batch: AdtBatch = loader.iter().next().unwrap().unwrap();
    let prep = model.prepare(&batch).unwrap();
    let mut rng = EngineRng::new(11);
    let generated = generate(&model, &prep, &mut rng);
    assert_eq!(generated.plan.graph_steps.len(), cfg.k);
    let draws = AugmentDraws::draw(&model.ctx.augment, 4, 16, 16, &mut rng);
    let loss = generator_adversarial_loss(&model, generated.image, prep.real.clone(), None, &draws);
    let mut grads = loss.backward();
    let gp = GradientsParams::from_module(&mut grads, &model.generator);
    let norm = global_norm(&model.generator, &gp);
    assert!(
        norm > 1e-8 && norm.is_finite(),
        "adversarial gradient norm {norm}"
    );
    // Every generator tensor takes part: conv_out's weight gradient is non-zero.
    let g = gp
        .get::<4>(model.generator.conv_out.weight.id)
        .expect("conv_out weight gradient");
    assert!(g.abs().sum().into_scalar::<f64>() > 0.0);
    // And the heads get nothing from the generator loss (D is frozen in the G step).
    let gd = GradientsParams::from_module(&mut grads, &model.discriminator);
    assert_eq!(
        gd.len(),
        0,
        "generator loss produced discriminator gradients"
    );
}

#[test]
fn noise_start_makes_the_full_start_independent_of_the_real_image() {
    // start_policy = full: every iteration starts at s = m. With `noise_start` the start is
    // the deployment's pure noise, so two batches with different real images (same captions,
    // same engine draws) give the same fake; without it the noised real image leaks through.
    let d = dev();
    let fakes = |noise_start: bool| {
        let cfg = adt_plugin::AdtConfig {
            start_policy: adt_plugin::config::StartPolicy::Full,
            noise_start,
            ..toy_config()
        };
        let model = ToyParts::new(ToySizes::default(), 3, &d)
            .model(cfg, &d)
            .unwrap();
        let loader = adt_plugin::toy::toy_loader(8, 16, 4, 0, &d);
        let batch: AdtBatch = loader.iter().next().unwrap().unwrap();
        let prep = model.prepare(&batch).unwrap();
        let mut other = model.prepare(&batch).unwrap();
        other.x0 = other.x0.clone().flip([3]).mul_scalar(0.5);
        let run = |p| {
            generate(&model, p, &mut EngineRng::new(3))
                .x0_hat
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let (a, b) = (run(&prep), run(&other));
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    assert_eq!(fakes(true), 0.0, "pure-noise start still depends on x0");
    assert!(
        fakes(false) > 1e-4,
        "the instrument must see x0 leaking without it"
    );
}

/// The G update's gradient is `λ_adv·∇adv + λ_diff·∇L_diff`, assembled from two backward
/// passes in the single (sharded or not) and the accumulated step alike:
/// `f(t) = ‖g_adv + t·g_diff‖²` is the quadratic its values at t = 0, 1 and the pure `g_diff`
/// norm fix, so the norm at t = 2 is predicted.
#[test]
fn the_generator_gradient_is_the_weighted_sum_of_both_terms() {
    let tmp = tempfile::tempdir().unwrap();
    for (accum, batch) in [(1, 4), (2, 2)] {
        let norm = |lambda_adv: f64, lambda_diff: f64| {
            let config = adt_plugin::AdtConfig {
                total_steps: 1,
                checkpoint_every: 100,
                grad_accum: accum,
                batch_size: batch,
                lambda_adv,
                lambda_diff,
                ..toy_config()
            };
            let dir = tmp
                .path()
                .join(format!("{accum}-{lambda_adv}-{lambda_diff}"));
            let report = crate::common::run_with(config, &dir, None, false);
            report.history[0].1.g_grad_norm.unwrap()
        };
        let a = norm(1.0, 0.0).powi(2);
        let d = norm(0.0, 1.0).powi(2);
        let f1 = norm(1.0, 1.0).powi(2);
        let b = (f1 - a - d) / 2.0;
        let predicted = a + 4.0 * b + 4.0 * d;
        let f2 = norm(1.0, 2.0).powi(2);
        assert!(
            a > 0.0 && d > 0.0,
            "grad_accum {accum}: a term has no gradient"
        );
        assert!(
            (f2 - predicted).abs() <= 1e-4 * f2,
            "grad_accum {accum}: ‖g_adv + 2 g_diff‖² = {f2}, predicted {predicted}"
        );
        assert!(
            (f1 - a).abs() > 1e-3 * f1 && (f1 - d).abs() > 1e-3 * f1,
            "grad_accum {accum}: the sum equals one of its terms"
        );
    }
}
