//! One ADT iteration ([`adt_step`]) and its optimizer plumbing.
//!
//! Order of work (one generated batch per iteration, as in adt-method.md §One training iteration):
//! 1. prepare the batch (latents, conditions; constants) and make every draw of the step;
//! 2. simulate the sampler with the plan's start index s and K graph steps and the
//!    backward-flow constraint → x̂0 (graph only through the K steps), decode → fake image;
//! 3. `d_steps_per_g` D updates on `sg(fake)` vs the paired real image (same DiffAugment draws for
//!    both), hinge (+R1); the spectral-norm vectors advance after each update;
//! 4. one G update: `λ_adv·(−mean D(fake)) + λ_diff·L_diff`, D frozen (`no_grad` copy), gradients
//!    through augment → backbone → decoder → the K steps; EMA update. The two terms' gradients
//!    come from two backward passes: on one shard (GPUs) the adversarial one before L_diff's
//!    forward pass, so one graph is alive at a time; on the CPU's shards ([`crate::shards`])
//!    the per-sample passes run side by side and L_diff's beside the heads.
//!
//! Each player's gradient is collected with `GradientsParams::from_module` on its own module, so a
//! D update cannot move θ and a G update cannot move a head. A non-finite loss skips that player's
//! update and is reported in [`StepReport::nonfinite`].

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer,
};
use burn::prelude::*;

use crate::augment::AugmentDraws;
use crate::components::Components;
use crate::config::{AdtConfig, LrDecay, LrScheduleConfig, OptimConfig, OptimKind};
use crate::discriminator::head_inputs;
use crate::ema::Ema;
use crate::error::Result;
use crate::grads::{clip_global_norm, global_norm};
use crate::inference::{SimulationOptions, SimulationPlan, simulate};
use crate::losses;
use crate::metrics::StepMetrics;
use crate::model::{AdtBatch, AdtModel, DiffusionDraws, FrozenContext, PreparedBatch};
use crate::precision::Compute;
use crate::rng::EngineRng;
use crate::shards::{Shards, cat_rows, side_by_side};
use crate::traits::BackboneFeatures;

/// Build one player's optimizer (clipping is global-norm, done in [`crate::grads`], not here).
pub fn build_optimizer(c: &OptimConfig) -> ModuleOptimizer {
    match c.kind {
        OptimKind::AdamW => AdamWConfig::new()
            .with_beta_1(c.beta1)
            .with_beta_2(c.beta2)
            .with_epsilon(c.eps)
            .with_weight_decay(c.weight_decay)
            .init(),
        OptimKind::Adam => AdamConfig::new()
            .with_beta_1(c.beta1)
            .with_beta_2(c.beta2)
            .with_epsilon(c.eps)
            .with_weight_decay(
                (c.weight_decay > 0.0).then(|| WeightDecayConfig::new(c.weight_decay)),
            )
            .init(),
    }
}

/// The two players' optimizers.
#[derive(Clone)]
pub struct Optimizers {
    /// Generator optimizer.
    pub g: ModuleOptimizer,
    /// Discriminator-heads optimizer.
    pub d: ModuleOptimizer,
}

impl Optimizers {
    /// Fresh optimizers from the config.
    pub fn new(config: &AdtConfig) -> Self {
        Self {
            g: build_optimizer(&config.g_optim),
            d: build_optimizer(&config.d_optim),
        }
    }
}

/// Learning rate at `step` (1-based): linear warm-up from `peak/warmup` to `peak`, then constant
/// or cosine to `min_lr_ratio·peak` at `total`. A pure function of the step, so resume is exact.
pub fn learning_rate(s: &LrScheduleConfig, peak: f64, step: usize, total: usize) -> f64 {
    if s.warmup_steps > 0 && step <= s.warmup_steps {
        return peak * step as f64 / s.warmup_steps as f64;
    }
    match s.decay {
        LrDecay::Constant => peak,
        LrDecay::Cosine => {
            let span = total.saturating_sub(s.warmup_steps).max(1) as f64;
            let p = ((step - s.warmup_steps.min(step)) as f64 / span).clamp(0.0, 1.0);
            let min = peak * s.min_lr_ratio;
            min + (peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
        }
    }
}

/// What one iteration did.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    /// Metric values of the step.
    pub metrics: StepMetrics,
    /// Names of the losses that were non-finite (their updates were skipped).
    pub nonfinite: Vec<&'static str>,
    /// The simulation plan used (adversarial runs).
    pub plan: Option<SimulationPlan>,
}

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 logits")
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|x| *x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// The simulated fake of one iteration.
pub struct Generated {
    /// The plan (start index, graph steps).
    pub plan: SimulationPlan,
    /// x̂0 in the denoiser's space (graph through the selected steps).
    pub x0_hat: Tensor<4>,
    /// Decoded image (graph through the decoder).
    pub image: Tensor<4>,
}

/// Draw a plan and run the simulated inference for a prepared batch.
pub fn generate<K: Components>(
    model: &AdtModel<K>,
    prep: &PreparedBatch,
    rng: &mut EngineRng,
) -> Generated {
    let c = &model.ctx.config;
    let plan = SimulationPlan::draw(c.m, c.k, c.start_policy, c.k_policy, rng);
    let noise = rng.normal_tensor(prep.x0.dims(), &prep.x0.device());
    simulate_fake(model, prep, plan, noise, true)
}

/// The simulated inference of `plan` from `noise` (the start noise of this batch); with
/// `graph = false` no step keeps a graph (a fake that only feeds the D update).
pub fn simulate_fake<K: Components>(
    model: &AdtModel<K>,
    prep: &PreparedBatch,
    plan: SimulationPlan,
    noise: Tensor<4>,
    graph: bool,
) -> Generated {
    let c = &model.ctx.config;
    let sampler = model.ctx.sampler.as_ref();
    let x_start = if c.noise_start && plan.first == 0 {
        sampler.initial_noise(c.m, noise)
    } else {
        sampler.add_noise(c.m, plan.first, prep.x0.clone(), noise)
    };
    let frozen = model.generator.clone().no_grad();
    let opts = SimulationOptions {
        constraint: c.constraint,
        skip_path: c.skip_path,
        cfg_scale: c.cfg_scale,
    };
    let trainable = if graph { &model.generator } else { &frozen };
    let x0_hat = match c.precision.dtype() {
        None => simulate(
            trainable, &frozen, sampler, x_start, &prep.cond, &plan, &opts,
        ),
        Some(d) => {
            // One bf16 copy: the frozen steps use it detached (shared storage).
            let compute = Compute::new(trainable, d);
            let frozen = compute.frozen();
            simulate(
                &compute, &frozen, sampler, x_start, &prep.cond, &plan, &opts,
            )
        }
    };
    let image = model.ctx.decode(x0_hat.clone());
    Generated {
        plan,
        x0_hat,
        image,
    }
}

/// D-side values of one discriminator evaluation.
pub struct DiscOutcome {
    /// Loss (hinge + R1) with graph through the heads.
    pub loss: Tensor<1>,
    /// Hinge value.
    pub hinge: f64,
    /// R1 value (when enabled).
    pub r1: Option<f64>,
    /// Real logits (host).
    pub real: Vec<f32>,
    /// Fake logits (host).
    pub fake: Vec<f32>,
}

/// What the heads see of one D evaluation, from the backbone's features of the (augmented)
/// fake and real images: the detached head inputs of each and the real images' CLS.
pub struct DiscInputs {
    /// The fake images' head inputs, one per tap (detached).
    pub fake: Vec<Tensor<3>>,
    /// The real images' head inputs, one per tap (detached).
    pub real: Vec<Tensor<3>>,
    /// The real images' final CLS embedding (detached), for the projection embedding.
    pub real_cls: Tensor<2>,
}

impl DiscInputs {
    /// The inputs for the backbone's features of a fake and of its paired real batch.
    pub fn new(fake: &BackboneFeatures, real: &BackboneFeatures) -> Self {
        let detached = |f: &BackboneFeatures| -> Vec<Tensor<3>> {
            head_inputs(f).into_iter().map(|t| t.detach()).collect()
        };
        Self {
            real_cls: real.cls.clone().detach(),
            real: detached(real),
            fake: detached(fake),
        }
    }

    /// The inputs for a fake (detached here) and its paired real batch under `draws`.
    pub fn of_images<K: Components>(
        ctx: &FrozenContext<K>,
        draws: &AugmentDraws,
        fake: Tensor<4>,
        real: Tensor<4>,
    ) -> Self {
        let fake_f = ctx.features(draws.apply(fake.detach()));
        let real_f = ctx.features(draws.apply(real));
        Self::new(&fake_f, &real_f)
    }

    /// The inputs of consecutive shards of a batch, as one batch.
    pub fn cat(shards: Vec<Self>) -> Self {
        let mut fake = Vec::with_capacity(shards.len());
        let mut real = Vec::with_capacity(shards.len());
        let mut real_cls = Vec::with_capacity(shards.len());
        for s in shards {
            fake.push(s.fake);
            real.push(s.real);
            real_cls.push(s.real_cls);
        }
        Self {
            fake: cat_rows(fake),
            real: cat_rows(real),
            real_cls: Tensor::cat(real_cls, 0),
        }
    }
}

/// Discriminator loss on a detached fake and its paired real image with shared `draws`;
/// `text` is the prompts' pooled embedding (used by text-conditioned heads).
pub fn discriminator_loss<K: Components>(
    model: &AdtModel<K>,
    fake: Tensor<4>,
    real: Tensor<4>,
    text: Option<Tensor<2>>,
    draws: &AugmentDraws,
    rng: &mut EngineRng,
) -> DiscOutcome {
    let inputs = DiscInputs::of_images(&model.ctx, draws, fake, real);
    discriminator_loss_on(model, inputs, text, rng)
}

/// [`discriminator_loss`] from the head inputs; `rng` draws R1's probes (with `r1`).
pub fn discriminator_loss_on<K: Components>(
    model: &AdtModel<K>,
    inputs: DiscInputs,
    text: Option<Tensor<2>>,
    rng: &mut EngineRng,
) -> DiscOutcome {
    let c = &model.ctx.config;
    let disc = &model.discriminator;
    let DiscInputs {
        fake: fake_in,
        real: real_in,
        real_cls,
    } = inputs;
    let emb = disc.embed(real_cls, text);
    let real_logits = disc.score(&real_in, emb.clone());
    let fake_logits = disc.score(&fake_in, emb.clone());
    let hinge_t = losses::d_hinge(real_logits.clone(), fake_logits.clone());
    let hinge = hinge_t.clone().into_scalar::<f64>();
    let (loss, r1) = if c.r1 {
        let device = real_in[0].device();
        let probes = vec![
            real_in
                .iter()
                .map(|x| rng.normal_tensor(x.dims(), &device))
                .collect(),
        ];
        let r1_t = losses::r1_penalty(
            |inp| disc.score(inp, emb.clone()),
            &real_in,
            c.r1_gamma,
            c.r1_fd_step,
            &probes,
        );
        let r1 = r1_t.clone().into_scalar::<f64>();
        (hinge_t + r1_t, Some(r1))
    } else {
        (hinge_t, None)
    };
    DiscOutcome {
        loss,
        hinge,
        r1,
        real: to_vec(real_logits.detach()),
        fake: to_vec(fake_logits.detach()),
    }
}

/// Generator adversarial loss `−mean D(fake)` with D frozen; graph through the fake image.
pub fn generator_adversarial_loss<K: Components>(
    model: &AdtModel<K>,
    fake: Tensor<4>,
    real: Tensor<4>,
    text: Option<Tensor<2>>,
    draws: &AugmentDraws,
) -> Tensor<1> {
    let ctx = &model.ctx;
    let fake_f = ctx.features(draws.apply(fake));
    let real_f = ctx.features(draws.apply(real));
    generator_adversarial_loss_on(model, head_inputs(&fake_f), real_f.cls.detach(), text)
}

/// [`generator_adversarial_loss`] from the fake's head inputs (graph kept) and the real
/// images' CLS (detached).
pub fn generator_adversarial_loss_on<K: Components>(
    model: &AdtModel<K>,
    fake_in: Vec<Tensor<3>>,
    real_cls: Tensor<2>,
    text: Option<Tensor<2>>,
) -> Tensor<1> {
    let disc = model.discriminator.clone().no_grad();
    let emb = disc.embed(real_cls, text);
    losses::g_adversarial(disc.score(&fake_in, emb))
}

/// Run one full iteration (D updates then G update) on `batches` and return the updated
/// model: one batch, or the `grad_accum` micro-batches of one accumulated step.
///
/// `step` is the 1-based index of the optimizer step being made (for the LR schedule).
pub fn adt_step<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    batches: &[AdtBatch],
    rng: &mut EngineRng,
    step: usize,
) -> Result<(AdtModel<K>, StepReport)> {
    let (model, report) = step_model(model, optims, ema, batches, rng, step, None);
    report.map(|r| (model, r))
}

/// [`adt_step`] (and, with `replicas`, [`adt_step_on`]) that hands the model back even when
/// the batch is refused, so a caller never holds a second copy of the weights during the
/// optimizer steps (the run loop's case: SDXL's UNet is 10 GB in f32).
pub fn step_model<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    batches: &[AdtBatch],
    rng: &mut EngineRng,
    step: usize,
    replicas: Option<&Replicas<K>>,
) -> (AdtModel<K>, Result<StepReport>) {
    match (batches, replicas) {
        ([batch], None) => single_step(model, optims, ema, batch, rng, step),
        _ => accumulated_step(model, optims, ema, batches, rng, step, replicas),
    }
}

/// Every random draw of one adversarial iteration, made before any of its passes.
struct AdversarialDraws {
    /// The simulation plan (start index, graph steps).
    plan: SimulationPlan,
    /// The start noise, shaped like the latents.
    noise: Tensor<4>,
    /// Per D update: its augmentations, and the seed of R1's probe stream (with `r1`).
    d: Vec<(AugmentDraws, Option<u64>)>,
    /// The G update's augmentations.
    g: AugmentDraws,
}

impl AdversarialDraws {
    /// Draw in the order plan, start noise (shaped `latents`, on `device`), each D update's
    /// augmentations and R1 seed, G's augmentations (for images of `image` = `[h, w]`). The
    /// one definition of a step's adversarial draws, whole batch or accumulated.
    fn draw<K: Components>(
        ctx: &FrozenContext<K>,
        latents: [usize; 4],
        image: [usize; 2],
        device: &Device,
        rng: &mut EngineRng,
    ) -> Self {
        let c = &ctx.config;
        let plan = SimulationPlan::draw(c.m, c.k, c.start_policy, c.k_policy, rng);
        let noise = rng.normal_tensor(latents, device);
        let ([b, ..], [h, w]) = (latents, image);
        let d = (0..c.d_steps_per_g)
            .map(|_| {
                let draws = AugmentDraws::draw(&ctx.augment, b, h, w, rng);
                (draws, c.r1.then(|| rng.int_inclusive(0, i64::MAX) as u64))
            })
            .collect();
        let g = AugmentDraws::draw(&ctx.augment, b, h, w, rng);
        Self { plan, noise, d, g }
    }
}

/// Refuses decoded fakes that are not the size of their real images (the augmentations
/// were drawn for that size).
fn check_fake_size(fake: &Tensor<4>, real: &Tensor<4>) -> Result<()> {
    if fake.dims() == real.dims() {
        Ok(())
    } else {
        Err(crate::error::AdtError::Shape {
            what: "decoded fakes",
            message: format!(
                "the decoder returned {:?} for real images of {:?}",
                fake.dims(),
                real.dims()
            ),
        })
    }
}

/// Record one D update's values in `m` and return its loss (hinge + R1).
fn record_discriminator(
    m: &mut StepMetrics,
    hinge: f64,
    r1: Option<f64>,
    real: &[f32],
    fake: &[f32],
) -> f64 {
    let total = hinge + r1.unwrap_or(0.0);
    m.d_loss = Some(total);
    m.r1 = r1;
    m.d_real = Some(mean(real));
    m.d_fake = Some(mean(fake));
    m.d_acc = Some(losses::sign_accuracy(real, fake));
    total
}

/// The D updates of one iteration on its head inputs (one per update), recorded in `m`.
fn discriminator_updates<K: Components>(
    mut model: AdtModel<K>,
    optims: &mut Optimizers,
    inputs: Vec<(DiscInputs, Option<u64>)>,
    text: Option<Tensor<2>>,
    lr_d: f64,
    m: &mut StepMetrics,
    report: &mut StepReport,
) -> AdtModel<K> {
    m.lr_d = Some(lr_d);
    for (inputs, r1_seed) in inputs {
        let mut probe_rng = EngineRng::derived(r1_seed.unwrap_or(0), 0);
        let d = discriminator_loss_on(&model, inputs, text.clone(), &mut probe_rng);
        let total = record_discriminator(m, d.hinge, d.r1, &d.real, &d.fake);
        if total.is_finite() {
            let mut grads = d.loss.backward();
            let gp = GradientsParams::from_module(&mut grads, &model.discriminator);
            model = update_discriminator(model, optims, gp, lr_d, m, report);
        } else {
            report.nonfinite.push("d_loss");
        }
    }
    model
}

/// What [`single_step`]'s passes hand its G update: the generator's gradient from the
/// adversarial term and from `L_diff` (each `λ`-scaled; none where the loss is non-finite).
struct GeneratorParts {
    /// The adversarial loss (adversarial runs).
    g_adv: Option<f64>,
    /// Its gradient.
    adv: Option<GradientsParams>,
    /// `L_diff`.
    l_diff: f64,
    /// Its gradient.
    diff: Option<GradientsParams>,
}

/// `L_diff` of `model`'s generator and its `λ_diff`-scaled gradient (none when non-finite),
/// each shard's forward and backward passes side by side on a fork of the generator.
fn diffusion_pass<K: Components>(
    model: &AdtModel<K>,
    prep: &PreparedBatch,
    draws: &DiffusionDraws,
    shards: &Shards,
) -> (f64, Option<GradientsParams>) {
    let b = draws.levels.len();
    let lambda_diff = model.ctx.config.lambda_diff;
    let run = |model: AdtModel<K>, rows: Range<usize>| {
        let (start, len) = (rows.start, rows.len());
        // The shard's share of the batch mean (an exact 1 for one shard).
        let share = len as f64 / b as f64;
        let loss = model.diffusion_loss(&prep.rows(start, len), &draws.rows(start, len));
        let value = loss.clone().into_scalar::<f64>();
        let grads = value.is_finite().then(|| {
            let mut grads = loss.mul_scalar(lambda_diff * share).backward();
            GradientsParams::from_module(&mut grads, &model.generator)
        });
        (share * value, grads)
    };
    if shards.len() == 1 {
        return run(model.clone(), 0..b);
    }
    let device = prep.x0.device();
    let jobs = shards
        .ranges()
        .iter()
        .map(|rows| {
            let fork = model.fork_generator(&device);
            let rows = rows.clone();
            let run = &run;
            Box::new(move || run(fork, rows)) as Box<dyn FnOnce() -> _ + Send + '_>
        })
        .collect();
    let (values, grads): (Vec<f64>, Vec<_>) = side_by_side(jobs).into_iter().unzip();
    // A shard with a non-finite loss leaves the batch without a gradient.
    let grads = grads
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .map(|grads| sum_gradients(&model.generator, grads));
    (values.into_iter().sum(), grads)
}

/// The sum of `parts`, gradients of `module`, added in their order.
fn sum_gradients<M: burn::module::Module>(
    module: &M,
    parts: impl IntoIterator<Item = GradientsParams>,
) -> GradientsParams {
    let mut acc = GradientsAccumulator::new();
    for grads in parts {
        acc.accumulate(module, grads);
    }
    acc.grads()
}

/// The adversarial half of [`single_step`] on one shard (the whole batch): simulate the fake
/// with its graph, make the D updates on it, then G's adversarial loss and its gradient;
/// `L_diff`'s passes follow, once the adversarial graph is freed (one graph alive at a time).
#[allow(clippy::too_many_arguments)]
fn adversarial_in_one<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    prep: &PreparedBatch,
    draws: AdversarialDraws,
    diffusion: &DiffusionDraws,
    lr_d: f64,
    m: &mut StepMetrics,
    report: &mut StepReport,
) -> (AdtModel<K>, Result<GeneratorParts>) {
    let ctx = model.ctx.clone();
    let text = prep.cond.cond.pooled.clone();
    let fake = simulate_fake(&model, prep, draws.plan, draws.noise, true);
    if let Err(e) = check_fake_size(&fake.image, &prep.real) {
        return (model, Err(e));
    }
    let inputs = draws
        .d
        .iter()
        .map(|(d, seed)| {
            let inputs = DiscInputs::of_images(&ctx, d, fake.image.clone(), prep.real.clone());
            (inputs, *seed)
        })
        .collect();
    let model = discriminator_updates(model, optims, inputs, text.clone(), lr_d, m, report);
    let adv = generator_adversarial_loss(&model, fake.image, prep.real.clone(), text, &draws.g);
    let g_adv = adv.clone().into_scalar::<f64>();
    let adv_grads = g_adv.is_finite().then(|| {
        let mut grads = adv.mul_scalar(ctx.config.lambda_adv).backward();
        GradientsParams::from_module(&mut grads, &model.generator)
    });
    fake.plan.record(m);
    report.plan = Some(fake.plan);
    let (l_diff, diff) = diffusion_pass(&model, prep, diffusion, &Shards::one(prep.x0.dims()[0]));
    let parts = GeneratorParts {
        g_adv: Some(g_adv),
        adv: adv_grads,
        l_diff,
        diff,
    };
    (model, Ok(parts))
}

/// One shard's share of the adversarial passes before the D updates.
struct ShardFakes<K: Components> {
    /// The shard's fork of the generator (its graph's leaves).
    fork: AdtModel<K>,
    /// Per D update, the heads' inputs.
    d: Vec<DiscInputs>,
    /// G's head inputs of the fake, with the graph through the backbone, decode and K steps.
    g_fake: Vec<Tensor<3>>,
    /// G's real CLS (detached).
    g_real_cls: Tensor<2>,
}

/// The adversarial half of [`single_step`] with the batch in `shards` (see [`crate::shards`]):
/// 1. per shard, side by side, on a fork of the generator: the simulated inference with its
///    graph, the decode, and the backbone's features for each D update (detached) and for G;
/// 2. the D updates on the whole batch's head inputs (the heads' batch norm sees all of it),
///    then G's adversarial loss on the whole batch, its head inputs taken as leaves so that
///    the backward pass stops there; `L_diff` (whole batch) runs beside this on another core;
/// 3. per shard, side by side: the backward pass from those leaves' gradients `g` through the
///    backbone, the decode and the K steps, as the gradient of `Σ x·sg(g)` over the shard's
///    head inputs `x` (the same vector–Jacobian product).
#[allow(clippy::too_many_arguments)]
fn adversarial_in_shards<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    prep: &PreparedBatch,
    draws: AdversarialDraws,
    diffusion: &DiffusionDraws,
    shards: &Shards,
    lr_d: f64,
    m: &mut StepMetrics,
    report: &mut StepReport,
) -> (AdtModel<K>, Result<GeneratorParts>) {
    let ctx = model.ctx.clone();
    let device = prep.x0.device();
    let text = prep.cond.cond.pooled.clone();
    let AdversarialDraws { plan, noise, d, g } = draws;
    // 1. Each shard's fake and features.
    let jobs = shards
        .ranges()
        .iter()
        .map(|rows| {
            let (start, len) = (rows.start, rows.len());
            let fork = model.fork_generator(&device);
            let (ctx, plan, d, g) = (&ctx, plan.clone(), &d, &g);
            let noise = noise.clone().narrow(0, start, len);
            Box::new(move || -> Result<ShardFakes<K>> {
                let prep = prep.rows(start, len);
                let fake = simulate_fake(&fork, &prep, plan, noise, true);
                check_fake_size(&fake.image, &prep.real)?;
                let d = d
                    .iter()
                    .map(|(d, _)| {
                        let d = d.rows(start, len);
                        DiscInputs::of_images(ctx, &d, fake.image.clone(), prep.real.clone())
                    })
                    .collect();
                let g = g.rows(start, len);
                let fake_f = ctx.features(g.apply(fake.image));
                let real_f = ctx.features(g.apply(prep.real));
                Ok(ShardFakes {
                    fork,
                    d,
                    g_fake: head_inputs(&fake_f),
                    g_real_cls: real_f.cls.detach(),
                })
            }) as Box<dyn FnOnce() -> Result<ShardFakes<K>> + Send + '_>
        })
        .collect();
    let parts = match side_by_side(jobs).into_iter().collect::<Result<Vec<_>>>() {
        Ok(p) => p,
        Err(e) => return (model, Err(e)),
    };
    // 2. The heads on the whole batch, `L_diff` beside them.
    let mut d_inputs: Vec<Vec<DiscInputs>> = (0..d.len()).map(|_| Vec::new()).collect();
    let mut forks = Vec::with_capacity(parts.len());
    let mut g_fake = Vec::with_capacity(parts.len());
    let mut g_real_cls = Vec::with_capacity(parts.len());
    for part in parts {
        for (all, one) in d_inputs.iter_mut().zip(part.d) {
            all.push(one);
        }
        forks.push(part.fork);
        g_fake.push(part.g_fake);
        g_real_cls.push(part.g_real_cls);
    }
    let inputs = d_inputs
        .into_iter()
        .map(DiscInputs::cat)
        .zip(d.iter().map(|(_, seed)| *seed))
        .collect();
    let leaves: Vec<Vec<Tensor<3>>> = g_fake
        .iter()
        .map(|xs| {
            xs.iter()
                .map(|x| x.clone().detach().require_grad())
                .collect()
        })
        .collect();
    let lambda_adv = ctx.config.lambda_adv;
    let heads = |model: AdtModel<K>, m: &mut StepMetrics, report: &mut StepReport| {
        let model = discriminator_updates(model, optims, inputs, text.clone(), lr_d, m, report);
        let real_cls = Tensor::cat(g_real_cls, 0);
        let adv = generator_adversarial_loss_on(&model, cat_rows(leaves.clone()), real_cls, text);
        let g_adv = adv.clone().into_scalar::<f64>();
        let upstream = g_adv.is_finite().then(|| {
            let grads = adv.mul_scalar(lambda_adv).backward();
            leaves
                .iter()
                .map(|xs| xs.iter().map(|x| x.grad(&grads)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        });
        (model, g_adv, upstream)
    };
    let unchanged = model.clone();
    let ((model, g_adv, upstream), (l_diff, diff)) = rayon::join(
        || heads(model, m, report),
        || diffusion_pass(&unchanged, prep, diffusion, &Shards::one(prep.x0.dims()[0])),
    );
    // 3. Each shard's backward pass from its leaves' gradients.
    let adv = upstream.map(|upstream| {
        let jobs = forks
            .iter()
            .zip(g_fake)
            .zip(upstream)
            .map(|((fork, xs), gs)| {
                Box::new(move || {
                    // The leaves without a gradient (none, with the heads as built) add nothing.
                    let surrogate = xs
                        .into_iter()
                        .zip(gs)
                        .filter_map(|(x, g)| g.map(|g| (x * g).sum()))
                        .reduce(|a, b| a + b);
                    match surrogate {
                        Some(s) => {
                            let mut grads = s.backward();
                            GradientsParams::from_module(&mut grads, &fork.generator)
                        }
                        None => GradientsParams::new(),
                    }
                }) as Box<dyn FnOnce() -> GradientsParams + Send + '_>
            })
            .collect();
        sum_gradients(&model.generator, side_by_side(jobs))
    });
    plan.record(m);
    report.plan = Some(plan);
    let parts = GeneratorParts {
        g_adv: Some(g_adv),
        adv,
        l_diff,
        diff,
    };
    (model, Ok(parts))
}

/// One iteration on one batch: the fake is simulated once, with its graph, for both players.
///
/// Every draw is made first, in the order plan, start noise, each D update's augmentations
/// (and R1's probe seed), G's augmentations, `L_diff`'s levels and noise. The passes then
/// run on the batch in one shard, or in several side by side on the CPU backend
/// ([`Shards::for_step`]). The G gradient is the adversarial term's plus `L_diff`'s, summed
/// in that order.
fn single_step<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    batch: &AdtBatch,
    rng: &mut EngineRng,
    step: usize,
) -> (AdtModel<K>, Result<StepReport>) {
    let t0 = Instant::now();
    let ctx = model.ctx.clone();
    let c = &ctx.config;
    let prep = match model.prepare(batch) {
        Ok(p) => p,
        Err(e) => return (model, Err(e)),
    };
    let device = prep.x0.device();
    let lr_g = learning_rate(&c.lr_schedule, c.g_optim.lr, step, c.total_steps);
    let lr_d = learning_rate(&c.lr_schedule, c.d_optim.lr, step, c.total_steps);
    let mut m = StepMetrics {
        lr_g: Some(lr_g),
        ..Default::default()
    };
    let mut report = StepReport::default();

    let [_, _, h, w] = prep.real.dims();
    let adversarial = c
        .adversarial
        .then(|| AdversarialDraws::draw(&ctx, prep.x0.dims(), [h, w], &device, rng));
    let diffusion = model.draw_diffusion(prep.x0.dims(), rng, &device);
    let shards = Shards::for_step(c, &device, prep.x0.dims()[0]);
    let (model, parts) = match adversarial {
        None => {
            let (l_diff, diff) = diffusion_pass(&model, &prep, &diffusion, &shards);
            let parts = GeneratorParts {
                g_adv: None,
                adv: None,
                l_diff,
                diff,
            };
            (model, Ok(parts))
        }
        Some(draws) if shards.len() == 1 => adversarial_in_one(
            model,
            optims,
            &prep,
            draws,
            &diffusion,
            lr_d,
            &mut m,
            &mut report,
        ),
        Some(draws) => adversarial_in_shards(
            model,
            optims,
            &prep,
            draws,
            &diffusion,
            &shards,
            lr_d,
            &mut m,
            &mut report,
        ),
    };
    let mut model = model;
    let parts = match parts {
        Ok(p) => p,
        Err(e) => return (model, Err(e)),
    };
    m.g_adv = parts.g_adv;
    m.l_diff = Some(parts.l_diff);
    let total = c.lambda_diff * parts.l_diff + parts.g_adv.map_or(0.0, |a| c.lambda_adv * a);
    m.g_total = Some(total);
    if total.is_finite() {
        let g_grads = sum_gradients(
            &model.generator,
            [parts.adv, parts.diff].into_iter().flatten(),
        );
        model = update_generator(model, optims, ema, g_grads, lr_g, &mut m, &mut report);
    } else {
        report.nonfinite.push("g_total");
    }
    m.step_time_s = Some(t0.elapsed().as_secs_f64());
    report.metrics = m;
    (model, Ok(report))
}

/// The devices of a data-parallel run: the frozen context on each (index 0: the main device,
/// where the weights, the optimizers and the gradient sum live).
pub struct Replicas<K: Components> {
    /// One context per device, the main one first.
    pub contexts: Vec<Arc<FrozenContext<K>>>,
    /// The devices, the main one first.
    pub devices: Vec<Device>,
}

impl<K: Components> Replicas<K> {
    /// `main` (whose modules live on `devices[0]`) and a replica of it on each other device.
    pub fn new(main: Arc<FrozenContext<K>>, devices: &[Device]) -> Self {
        let mut contexts = vec![main.clone()];
        contexts.extend(devices[1..].iter().map(|d| Arc::new(main.replica(d))));
        Self {
            contexts,
            devices: devices.to_vec(),
        }
    }

    /// How many devices.
    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    /// Always false: the main device is one.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The trained modules of `model` on device `r` (the main model itself for `r = 0`).
    fn model(&self, r: usize, model: &AdtModel<K>, device: &Device) -> AdtModel<K> {
        if r == 0 {
            return model.clone();
        }
        AdtModel {
            generator: model.generator.clone().fork(device),
            discriminator: model.discriminator.clone().fork(device),
            ctx: self.contexts[r].clone(),
        }
    }
}

/// Run `jobs` (one per device) at once on scoped threads; in order, inline when there is one.
fn parallel<T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + '_>>) -> Vec<T> {
    if jobs.len() == 1 {
        return jobs.into_iter().map(|j| j()).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs.into_iter().map(|j| s.spawn(j)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a device's worker thread panicked"))
            .collect()
    })
}

/// [`adt_step`] on several devices: the `grad_accum × devices` micro-batches of one step are
/// spread round-robin over `replicas` (micro-batch i on device i mod D), each device's work
/// runs on its own thread, and the gradients are summed on the main device in micro-batch
/// order before one optimizer step there; the replicas take the new weights at the next pass.
pub fn adt_step_on<K: Components>(
    model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    batches: &[AdtBatch],
    rng: &mut EngineRng,
    step: usize,
    replicas: &Replicas<K>,
) -> Result<(AdtModel<K>, StepReport)> {
    let (model, report) = step_model(model, optims, ema, batches, rng, step, Some(replicas));
    report.map(|r| (model, r))
}

/// One micro-batch's D-side values and the heads' gradients (on the main device).
struct DiscPart {
    hinge: f64,
    r1: Option<f64>,
    real: Vec<f32>,
    fake: Vec<f32>,
    grads: GradientsParams,
}

/// One micro-batch's G-side values and the generator's gradients (on the main device).
struct GenPart {
    l_diff: f64,
    g_adv: f64,
    grads: GradientsParams,
}

/// One iteration over micro-batches whose gradients add up to one optimizer step per player.
///
/// Every draw is made for the whole effective batch, in the order [`single_step`] makes
/// them (plan, start noise, D augmentations, G augmentations, `L_diff` levels and noise), and
/// each micro-batch takes its rows, so the step equals one step on the concatenated batch up
/// to float summation order. Each micro-batch's loss is divided by their number (all are
/// means over equal-sized micro-batches). Holding one micro-batch's graph at a time means the
/// fakes are simulated twice: without a graph for the D update, then again with it (the same
/// plan and noise, so the same images) for the G update after D has moved, as in
/// `single_step`. Deviation: R1's random probes come from a stream per micro-batch (seeded
/// from the training stream), so with `r1 = true` the step equals the one-batch step in
/// distribution, not draw for draw — and equals itself on any number of devices.
#[allow(clippy::too_many_arguments)]
fn accumulated_step<K: Components>(
    mut model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    batches: &[AdtBatch],
    rng: &mut EngineRng,
    step: usize,
    replicas: Option<&Replicas<K>>,
) -> (AdtModel<K>, Result<StepReport>) {
    let t0 = Instant::now();
    let ctx = model.ctx.clone();
    let c = &ctx.config;
    let n = batches.len();
    let main = batches[0].images.device();
    let dev_count = replicas.map_or(1, Replicas::len);
    // Device of micro-batch i: the batch's own for one device, else round-robin.
    let devices: Vec<Device> = match replicas {
        None => vec![main.clone()],
        Some(r) => r.devices.clone(),
    };
    let on = |i: usize| i % dev_count;
    let place = |model: &AdtModel<K>| -> Vec<AdtModel<K>> {
        (0..dev_count)
            .map(|r| match replicas {
                None => model.clone(),
                Some(reps) => reps.model(r, model, &devices[r]),
            })
            .collect()
    };
    let placed = place(&model);
    let preps = batches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let r = on(i);
            if r == 0 {
                placed[0].prepare(b)
            } else {
                placed[r].prepare(&b.to_device(&devices[r]))
            }
        })
        .collect::<Result<Vec<_>>>();
    let preps = match preps {
        Ok(p) => p,
        Err(e) => return (model, Err(e)),
    };
    // Replicas hold weights the optimizers will replace: each pass places its own and drops
    // them before the update.
    drop(placed);
    let shape = preps[0].x0.dims();
    if let Some(p) = preps.iter().find(|p| p.x0.dims() != shape) {
        let message = format!(
            "the micro-batches of one accumulated step differ: {:?} and {:?}",
            shape,
            p.x0.dims()
        );
        let error = crate::error::AdtError::Shape {
            what: "micro-batches",
            message,
        };
        return (model, Err(error));
    }
    let b = shape[0];
    let full = [b * n, shape[1], shape[2], shape[3]];
    let lr_g = learning_rate(&c.lr_schedule, c.g_optim.lr, step, c.total_steps);
    let lr_d = learning_rate(&c.lr_schedule, c.d_optim.lr, step, c.total_steps);
    let mut m = StepMetrics {
        lr_g: Some(lr_g),
        ..Default::default()
    };
    let mut report = StepReport::default();
    let share = 1.0 / n as f64;
    let rows = |t: &Tensor<4>, i: usize| t.clone().narrow(0, i * b, b).to_device(&devices[on(i)]);
    // Micro-batches in rounds of one per device.
    let rounds: Vec<Vec<usize>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(dev_count)
        .map(<[usize]>::to_vec)
        .collect();

    let mut adversarial = None;
    if c.adversarial {
        m.lr_d = Some(lr_d);
        let [_, _, h, w] = preps[0].real.dims();
        let draws = AdversarialDraws::draw(&ctx, full, [h, w], &main, rng);
        let (plan, noise) = (draws.plan, draws.noise);
        let placed = place(&model);
        let mut fakes: Vec<Tensor<4>> = Vec::with_capacity(n);
        for round in &rounds {
            let jobs = round
                .iter()
                .map(|&i| {
                    let (model, prep, plan) = (&placed[on(i)], &preps[i], plan.clone());
                    let start = rows(&noise, i);
                    Box::new(move || {
                        simulate_fake(model, prep, plan, start, false)
                            .image
                            .detach()
                    }) as Box<dyn FnOnce() -> Tensor<4> + Send + '_>
                })
                .collect();
            fakes.extend(parallel(jobs));
        }
        drop(placed);
        if let Err(e) = check_fake_size(&fakes[0], &preps[0].real) {
            return (model, Err(e));
        }
        for (draws, r1_seed) in draws.d {
            let placed = place(&model);
            let mut parts: Vec<DiscPart> = Vec::with_capacity(n);
            for round in &rounds {
                let jobs = round
                    .iter()
                    .map(|&i| {
                        let (model, prep, fake) = (&placed[on(i)], &preps[i], fakes[i].clone());
                        let draws = draws.rows(i * b, b);
                        let main = main.clone();
                        Box::new(move || {
                            let mut probe_rng = EngineRng::derived(r1_seed.unwrap_or(0), i as u64);
                            let d = discriminator_loss(
                                model,
                                fake,
                                prep.real.clone(),
                                prep.cond.cond.pooled.clone(),
                                &draws,
                                &mut probe_rng,
                            );
                            let mut grads = d.loss.mul_scalar(share).backward();
                            let grads =
                                GradientsParams::from_module(&mut grads, &model.discriminator)
                                    .to_device(&main, &model.discriminator);
                            DiscPart {
                                hinge: d.hinge,
                                r1: d.r1,
                                real: d.real,
                                fake: d.fake,
                                grads,
                            }
                        }) as Box<dyn FnOnce() -> DiscPart + Send + '_>
                    })
                    .collect();
                parts.extend(parallel(jobs));
            }
            drop(placed);
            let mut acc = GradientsAccumulator::new();
            let (mut hinge, mut r1) = (0.0, None::<f64>);
            let (mut real, mut fake) = (Vec::new(), Vec::new());
            for part in parts {
                hinge += share * part.hinge;
                if let Some(v) = part.r1 {
                    r1 = Some(r1.unwrap_or(0.0) + share * v);
                }
                real.extend(part.real);
                fake.extend(part.fake);
                acc.accumulate(&model.discriminator, part.grads);
            }
            let total = record_discriminator(&mut m, hinge, r1, &real, &fake);
            if total.is_finite() {
                model = update_discriminator(model, optims, acc.grads(), lr_d, &mut m, &mut report);
            } else {
                report.nonfinite.push("d_loss");
            }
        }
        adversarial = Some((plan, noise, draws.g));
    }

    let diffusion = model.draw_diffusion(full, rng, &main);
    let placed = place(&model);
    let mut parts: Vec<GenPart> = Vec::with_capacity(n);
    for round in &rounds {
        let jobs = round
            .iter()
            .map(|&i| {
                let (model, prep) = (&placed[on(i)], &preps[i]);
                let r = on(i);
                let mut draws = diffusion.rows(i * b, b);
                draws.noise = draws.noise.to_device(&devices[r]);
                let adv_inputs = adversarial
                    .as_ref()
                    .map(|(plan, noise, g)| (plan.clone(), rows(noise, i), g.rows(i * b, b)));
                let main = main.clone();
                Box::new(move || {
                    // As in `single_step`: the adversarial term's backward pass first, then
                    // L_diff's, so one graph is alive at a time.
                    let mut acc = GradientsAccumulator::new();
                    let mut g_adv = 0.0;
                    if let Some((plan, start, g_draws)) = adv_inputs {
                        let fake = simulate_fake(model, prep, plan, start, true);
                        let adv = generator_adversarial_loss(
                            model,
                            fake.image,
                            prep.real.clone(),
                            prep.cond.cond.pooled.clone(),
                            &g_draws,
                        );
                        g_adv = adv.clone().into_scalar::<f64>();
                        if g_adv.is_finite() {
                            let adv = adv.mul_scalar(c.lambda_adv * share);
                            accumulate_backward(&mut acc, &model.generator, adv);
                        }
                    }
                    let l = model.diffusion_loss(prep, &draws);
                    let l_diff = l.clone().into_scalar::<f64>();
                    if l_diff.is_finite() {
                        let l = l.mul_scalar(c.lambda_diff * share);
                        accumulate_backward(&mut acc, &model.generator, l);
                    }
                    GenPart {
                        l_diff,
                        g_adv,
                        grads: acc.grads().to_device(&main, &model.generator),
                    }
                }) as Box<dyn FnOnce() -> GenPart + Send + '_>
            })
            .collect();
        parts.extend(parallel(jobs));
    }
    drop(placed);
    let mut acc = GradientsAccumulator::new();
    let (mut l_diff, mut g_adv) = (0.0, 0.0);
    for part in parts {
        l_diff += share * part.l_diff;
        g_adv += share * part.g_adv;
        acc.accumulate(&model.generator, part.grads);
    }
    m.l_diff = Some(l_diff);
    let mut total = c.lambda_diff * l_diff;
    if let Some((plan, _, _)) = adversarial {
        m.g_adv = Some(g_adv);
        total += c.lambda_adv * g_adv;
        plan.record(&mut m);
        report.plan = Some(plan);
    }
    m.g_total = Some(total);
    if total.is_finite() {
        model = update_generator(model, optims, ema, acc.grads(), lr_g, &mut m, &mut report);
    } else {
        report.nonfinite.push("g_total");
    }
    m.step_time_s = Some(t0.elapsed().as_secs_f64());
    report.metrics = m;
    (model, Ok(report))
}

/// Add the gradient of `loss` with respect to `module`'s parameters to `acc` (its graph is
/// consumed, so its activations are freed before the caller records the next one).
fn accumulate_backward<M: burn::module::Module>(
    acc: &mut GradientsAccumulator<M>,
    module: &M,
    loss: Tensor<1>,
) {
    let mut grads = loss.backward();
    acc.accumulate(module, GradientsParams::from_module(&mut grads, module));
}

/// Clip the heads' gradients to the global norm and step their optimizer (the spectral-norm
/// vectors advance after it); a non-finite norm skips the update and is reported.
fn update_discriminator<K: Components>(
    mut model: AdtModel<K>,
    optims: &mut Optimizers,
    mut gp: GradientsParams,
    lr: f64,
    m: &mut StepMetrics,
    report: &mut StepReport,
) -> AdtModel<K> {
    let clip = model.ctx.config.d_optim.grad_clip;
    let norm = global_norm(&model.discriminator, &gp);
    m.d_grad_norm = Some(norm);
    if norm.is_finite() {
        clip_global_norm(&model.discriminator, &mut gp, norm, clip);
        model.discriminator = optims.d.step(lr, model.discriminator, gp).refreshed();
    } else {
        report.nonfinite.push("d_grad_norm");
    }
    model
}

/// Clip the generator's gradients to the global norm, step its optimizer and the EMA; a
/// non-finite norm skips the update and is reported.
fn update_generator<K: Components>(
    mut model: AdtModel<K>,
    optims: &mut Optimizers,
    ema: Option<&mut Ema<K::Denoiser>>,
    mut gp: GradientsParams,
    lr: f64,
    m: &mut StepMetrics,
    report: &mut StepReport,
) -> AdtModel<K> {
    let clip = model.ctx.config.g_optim.grad_clip;
    let norm = global_norm(&model.generator, &gp);
    m.g_grad_norm = Some(norm);
    if norm.is_finite() {
        clip_global_norm(&model.generator, &mut gp, norm, clip);
        model.generator = optims.g.step(lr, model.generator, gp);
        if let Some(ema) = ema {
            ema.update(&model.generator);
        }
    } else {
        report.nonfinite.push("g_grad_norm");
    }
    model
}
