//! [`AdtConfig`]: every knob of `docs/adt-method.md` with its documented default.
//!
//! The config is plain serde (TOML on disk). Unknown keys and unknown policy names are rejected by
//! the parser (the message names the key); value ranges are checked by [`AdtConfig::validate`],
//! which names the offending field. The resolved config is written to `runs/NAME/config.toml`.
//! Defaults marked [paper] are the method; [choice] ones are the project's picks (see adt-method.md).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::augment::AugmentPolicy;
use crate::error::{AdtError, Result};
pub use crate::lora::LoraConfig;
pub use crate::precision::Precision;

/// Which executed steps keep their autodiff graph (the set S of the method).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KPolicy {
    /// K distinct steps drawn uniformly among the executed ones [choice, default].
    Random,
    /// The last K executed steps.
    Last,
}

/// How the image-to-image start index s ∈ {1..m} is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPolicy {
    /// s uniform in {1..m} [choice, as summaries report].
    Uniform,
    /// Always s = m (plain text-to-image from noise level t_m).
    Full,
    /// s uniform in {1..m−1} (s = 1 when m = 1): always a refinement of the paired real
    /// image. On zero-terminal-SNR schedules α_{t_m} = 0, so an s = m fake shares nothing with
    /// the real image the siamese discriminator pairs it with.
    Refine,
}

/// Whether the linear sampler path `a_i·x_i` stays differentiable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipPath {
    /// Gradients flow along `x_{i-1} = a_i·x_i + b_i·ε̂_i` through `a_i·x_i` [choice, default].
    Differentiable,
    /// `x_i` is detached in the update too: only `b_i·ε̂_i` of the selected steps carries gradient.
    Detached,
}

/// How training timesteps for `L_diff` are drawn (a fraction u ∈ (0,1) handed to the schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSampling {
    /// u uniform (DDPM-style ε / v training).
    Uniform,
    /// u = sigmoid(n), n ~ N(logit_mean, logit_std²) (SD3 flow matching).
    LogitNormal,
    /// diffusers' `mode` density: u = 1 − v − mode_scale·(cos²(πv/2) − 1 + v), v uniform.
    Mode,
}

/// Per-sample weighting of `L_diff` by its noise level σ, as diffusers'
/// `compute_loss_weighting_for_sd3` (`training_utils.py`); for flow models. diffusers picks
/// density and weighting with one `weighting_scheme`: `logit_normal` and `mode` are those
/// densities with `None`, `sigma_sqrt` and `cosmap` the uniform density with these weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossWeighting {
    /// Every sample weighs 1 (diffusers' `logit_normal` / `mode` / `none` schemes).
    None,
    /// σ⁻² (`sigma_sqrt`).
    SigmaSqrt,
    /// 2 / (π·(1 − 2σ + 2σ²)) (`cosmap`).
    Cosmap,
}

impl LossWeighting {
    /// The weight of a sample at noise level σ (f32, as diffusers computes it on the
    /// scheduler's float32 sigmas).
    pub fn weight(self, sigma: f32) -> f32 {
        match self {
            LossWeighting::None => 1.0,
            LossWeighting::SigmaSqrt => sigma.powf(-2.0),
            LossWeighting::Cosmap => {
                let bot = 1.0 - 2.0 * sigma + 2.0 * sigma * sigma;
                2.0 / (std::f32::consts::PI * bot)
            }
        }
    }
}

/// Discriminator scoring rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// Per-token logits projected on the paired real image's embedding (dot / √dim) [default].
    Projection,
    /// `cosine_scale ·` cosine similarity of each token's head output with the real embedding.
    Cosine,
}

/// Optimizer family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimKind {
    /// Adam with L2 weight decay (coupled) when `weight_decay > 0`.
    Adam,
    /// AdamW (decoupled weight decay).
    AdamW,
}

/// Settings of one player's optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Adam or AdamW.
    pub kind: OptimKind,
    /// Peak learning rate (after warm-up).
    pub lr: f64,
    /// Adam β1.
    pub beta1: f32,
    /// Adam β2.
    pub beta2: f32,
    /// Adam ε.
    pub eps: f32,
    /// Weight decay (decoupled for AdamW, L2 for Adam).
    pub weight_decay: f32,
    /// Clip the player's gradient to this global L2 norm; `0` disables.
    pub grad_clip: f64,
}

impl OptimConfig {
    /// G default [choice]: AdamW lr 1e-5, betas (0.9, 0.999), wd 1e-2, grad-clip 1.0.
    pub fn generator_default() -> Self {
        Self {
            kind: OptimKind::AdamW,
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            grad_clip: 1.0,
        }
    }

    /// D heads default [choice]: Adam lr 1e-4, betas (0.0, 0.99), no decay, no clipping.
    pub fn discriminator_default() -> Self {
        Self {
            kind: OptimKind::Adam,
            lr: 1e-4,
            beta1: 0.0,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_clip: 0.0,
        }
    }

    fn validate(&self, prefix: &str) -> Result<()> {
        let f = |name: &str| format!("{prefix}.{name}");
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return Err(AdtError::config(
                f("lr"),
                format!("must be >= 0, got {}", self.lr),
            ));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(AdtError::config(
                    f(name),
                    format!("must be in [0, 1), got {b}"),
                ));
            }
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return Err(AdtError::config(
                f("eps"),
                format!("must be > 0, got {}", self.eps),
            ));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err(AdtError::config(
                f("weight_decay"),
                format!("must be >= 0, got {}", self.weight_decay),
            ));
        }
        if self.grad_clip.is_nan() || self.grad_clip < 0.0 {
            return Err(AdtError::config(
                f("grad_clip"),
                format!("must be >= 0 (0 disables), got {}", self.grad_clip),
            ));
        }
        Ok(())
    }
}

/// Learning-rate shape shared by both players (each scales its own peak `lr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrDecay {
    /// Constant after warm-up.
    Constant,
    /// Cosine from the peak to `min_lr_ratio·peak` at `total_steps`.
    Cosine,
}

/// LR schedule: linear warm-up from 0, then constant or cosine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrScheduleConfig {
    /// Steps of linear warm-up (step 1 uses peak/warmup_steps).
    pub warmup_steps: usize,
    /// Shape after warm-up.
    pub decay: LrDecay,
    /// Final LR as a fraction of the peak (cosine only).
    pub min_lr_ratio: f64,
}

impl Default for LrScheduleConfig {
    fn default() -> Self {
        Self {
            warmup_steps: 0,
            decay: LrDecay::Constant,
            min_lr_ratio: 0.0,
        }
    }
}

/// Every knob of the ADT engine. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdtConfig {
    /// Model name, written to `run_start` (informational).
    pub model: String,
    /// Sampler name, written to `run_start` (informational; the sampler object is passed in
    /// code). A model family's trainer resolves an absent name to the checkpoint's own
    /// scheduler where the engine can step it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<String>,
    /// Seed of every engine draw (start index, K steps, noise, timesteps, augmentation, data order).
    pub seed: u64,
    /// Optimizer steps (iterations) to run in total.
    pub total_steps: usize,
    /// Images per batch: per forward pass, and per optimizer step when `grad_accum = 1`.
    pub batch_size: usize,
    /// Micro-batches of `batch_size` whose gradients make one optimizer step, for both
    /// players: the effective batch is `grad_accum × batch_size`, and each micro-batch keeps
    /// whole local batch-norm groups (`batch_size` is a multiple of `bn_group`).
    pub grad_accum: usize,
    /// Adversarial tuning on (ADT). `false` = plain diffusion fine-tune (L_diff only).
    pub adversarial: bool,

    // ---- simulated inference [paper]
    /// m: sampling steps of the simulated inference (the deployment sampler's step count).
    pub m: usize,
    /// K: executed steps that keep their autodiff graph [choice: 1].
    pub k: usize,
    /// Which steps keep their graph [choice: random].
    pub k_policy: KPolicy,
    /// Image-to-image start index rule [choice: uniform].
    pub start_policy: StartPolicy,
    /// At s = m start from pure noise as deployed text-to-image does (the sampler's initial
    /// noise), instead of α_{t_m}·x0 + σ_{t_m}·ε [choice: false]. With few sampler steps
    /// α_{t_m} is not negligible (DDIM 8 steps on SD1.5's schedule: 0.11), so the noised real
    /// image leaks its global colours into the "text-to-image" fakes.
    pub noise_start: bool,
    /// Backward-flow constraint [paper]: stop-gradient on every step input and graphs only on the
    /// K selected steps. `false` = full backpropagation through every step (for ablation and the
    /// memory benchmark).
    pub constraint: bool,
    /// Linear skip path differentiable or detached [choice: differentiable].
    pub skip_path: SkipPath,
    /// Classifier-free guidance scale inside the loop; `1` = off (no unconditional pass).
    pub cfg_scale: f32,

    // ---- losses
    /// λ_adv [choice: 0.1 from the calibration run in adt-method.md].
    pub lambda_adv: f64,
    /// λ_diff [paper: 1].
    pub lambda_diff: f64,
    /// Timestep distribution of L_diff.
    pub timestep_sampling: TimestepSampling,
    /// Logit-normal mean (SD3: 0).
    pub logit_mean: f64,
    /// Logit-normal std (SD3: 1).
    pub logit_std: f64,
    /// Scale of the `mode` density [diffusers' default: 1.29].
    pub mode_scale: f64,
    /// Per-sample weighting of L_diff by σ (flow models only) [diffusers' default: none].
    pub loss_weighting: LossWeighting,
    /// Flow models: regress the x0 the velocity implies, `x_σ − σ·v̂`, on x0 (a σ²-weighted
    /// velocity loss) instead of v̂ on ε − x0 — diffusers' `--precondition_outputs` of
    /// `train_dreambooth_sd3.py`. Unset: on for flow models (that script's default); setting
    /// it for an ε/v model is an error.
    pub precondition_outputs: Option<bool>,
    /// R1 penalty on the heads' inputs for real images [choice: off]. Its random probes come
    /// from a stream seeded by one draw of the step per D update (per micro-batch in
    /// accumulated steps), so they do not depend on the order of the step's passes.
    pub r1: bool,
    /// R1 weight γ (penalty = γ/2 · E‖∇D‖²) [choice: 1e-5].
    pub r1_gamma: f64,
    /// Finite-difference step of the R1 estimator (see `losses::r1_penalty`).
    pub r1_fd_step: f64,

    // ---- discriminator [choice, StyleGAN-T/ADD practice]
    /// Scoring rule.
    pub score: ScoreKind,
    /// Scale of the cosine score.
    pub cosine_scale: f32,
    /// Width of the projection embedding.
    pub cmap_dim: usize,
    /// Samples per local batch-norm group (batch must be a multiple).
    pub bn_group: usize,
    /// Kernel size of the heads' residual conv [choice: 9].
    pub head_kernel: usize,
    /// Condition the heads on the prompt too: the projection embedding adds a linear map of
    /// the conditioner's pooled prompt embedding [choice: off; ADD found text + image
    /// conditioning best]. Needs a conditioner that returns `Conditioning::pooled`; cached
    /// prompt embeddings hold only the hidden states, so with it the prompts are encoded.
    pub text_cond: bool,
    /// Show the discriminator the real images as the VAE reconstructs them (decode of the
    /// encoded latents) instead of raw pixels [choice: off]. Fakes are decodes; with a lossy
    /// VAE "was this decoded?" is otherwise D's cheapest cue, one no latent can remove.
    pub real_through_vae: bool,
    /// DiffAugment policy: comma list of `color`, `translation`, `cutout` (empty = none), or of
    /// `color`'s single ops `brightness`, `saturation`, `contrast`.
    pub augment: String,
    /// Max translation as a fraction of the image side [DiffAugment: 1/8].
    pub translation_ratio: f64,
    /// Cutout square side as a fraction of the image side [DiffAugment: 1/2].
    pub cutout_ratio: f64,
    /// D updates per G update (on the same generated batch).
    pub d_steps_per_g: usize,

    // ---- optimization
    /// Generator optimizer.
    pub g_optim: OptimConfig,
    /// Discriminator-heads optimizer.
    pub d_optim: OptimConfig,
    /// LR schedule (both players).
    pub lr_schedule: LrScheduleConfig,
    /// Keep an EMA of the generator.
    pub ema: bool,
    /// EMA decay [choice: 0.999].
    pub ema_decay: f64,
    /// The generator's compute precision: `"f32"`, or `"bf16"` (forward and backward in bf16
    /// over f32 master weights, gradients and optimizer state; see [`crate::precision`]).
    pub precision: Precision,
    /// The frozen VAE's precision in the training step [choice: `"f32"`, as diffusers' scripts
    /// keep the VAE in f32 by default]; `"bf16"` decodes the simulated x̂0 (and encodes
    /// uncached images) with a bf16 copy of the VAE, its activations bf16, the images back in
    /// f32 (see [`crate::precision`]).
    pub vae_precision: Precision,
    /// The frozen discriminator backbone's precision [choice: `"f32"`]; `"bf16"` runs it in
    /// bf16 and hands the heads f32 features.
    pub backbone_precision: Precision,
    /// Recompute activations in the backward pass instead of keeping them (burn-autodiff's
    /// balanced op-level checkpointing, for the denoiser steps, the VAE decode and the backbone
    /// of the G step alike). The training device must be created with
    /// `Device::autodiff().gradient_checkpointing()`; the engine checks that it is.
    pub gradient_checkpointing: bool,
    /// On the CPU backend (flex), split each batch into this many shards that run side by
    /// side, one per core (unset: one per thread of rayon's pool; 1: no splitting). A small
    /// model's ops are too small to keep every core busy one at a time; see
    /// [`crate::shards`]. Shards change only the order of float sums. GPU backends always
    /// run one shard. Not used by accumulated steps (`grad_accum > 1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shards: Option<usize>,
    /// `[adt.lora]`: train low-rank adapters of the generator's target layers instead of all
    /// its weights (unset: full fine-tuning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,

    // ---- run management
    /// Write a checkpoint every N steps (0 = only at the end).
    pub checkpoint_every: usize,
    /// Checkpoints kept on disk (oldest deleted first; ≥ 1).
    pub keep_checkpoints: usize,
    /// Stop after this many consecutive steps with a non-finite loss.
    pub max_nonfinite_in_row: usize,
}

impl Default for AdtConfig {
    fn default() -> Self {
        Self {
            model: "unnamed".into(),
            sampler: None,
            seed: 0,
            total_steps: 1000,
            batch_size: 8,
            grad_accum: 1,
            adversarial: true,
            m: 20,
            k: 1,
            k_policy: KPolicy::Random,
            start_policy: StartPolicy::Uniform,
            noise_start: false,
            constraint: true,
            skip_path: SkipPath::Differentiable,
            cfg_scale: 1.0,
            lambda_adv: 0.1,
            lambda_diff: 1.0,
            timestep_sampling: TimestepSampling::Uniform,
            logit_mean: 0.0,
            logit_std: 1.0,
            mode_scale: 1.29,
            loss_weighting: LossWeighting::None,
            precondition_outputs: None,
            r1: false,
            r1_gamma: 1e-5,
            r1_fd_step: 1e-2,
            score: ScoreKind::Projection,
            cosine_scale: 10.0,
            cmap_dim: 64,
            bn_group: 8,
            head_kernel: 9,
            text_cond: false,
            real_through_vae: false,
            augment: "color,translation,cutout".into(),
            translation_ratio: 0.125,
            cutout_ratio: 0.5,
            d_steps_per_g: 1,
            g_optim: OptimConfig::generator_default(),
            d_optim: OptimConfig::discriminator_default(),
            lr_schedule: LrScheduleConfig::default(),
            ema: true,
            ema_decay: 0.999,
            precision: Precision::F32,
            vae_precision: Precision::F32,
            backbone_precision: Precision::F32,
            gradient_checkpointing: false,
            cpu_shards: None,
            lora: None,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            max_nonfinite_in_row: 5,
        }
    }
}

/// With accumulation, say that `batch_size` is the micro-batch the groups must fit in.
fn accum_hint(grad_accum: usize) -> String {
    if grad_accum > 1 {
        format!(
            " (with grad_accum = {grad_accum}, batch_size is the micro-batch of one forward \
             pass: each must hold whole batch-norm groups)"
        )
    } else {
        String::new()
    }
}

fn non_negative(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(AdtError::config(
            field,
            format!("must be a finite number >= 0, got {v}"),
        ))
    }
}

impl AdtConfig {
    /// Parse a TOML string (unknown keys / names rejected with the key named).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| AdtError::ConfigParse {
            path: "<string>".into(),
            message: e.to_string(),
        })
    }

    /// Read and validate a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AdtError::io("read", path, e))?;
        let cfg: Self = toml::from_str(&text).map_err(|e| AdtError::ConfigParse {
            path: path.into(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The config as TOML (what `config.toml` in the run directory holds).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("AdtConfig always serializes")
    }

    /// The parsed DiffAugment policy.
    pub fn augment_policy(&self) -> Result<AugmentPolicy> {
        AugmentPolicy::parse(&self.augment)
    }

    /// Check every value; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.total_steps == 0 {
            return Err(AdtError::config("total_steps", "must be >= 1"));
        }
        if self.grad_accum == 0 {
            return Err(AdtError::config("grad_accum", "must be >= 1"));
        }
        if self.cpu_shards == Some(0) {
            return Err(AdtError::config(
                "cpu_shards",
                "must be >= 1 (1: no splitting)",
            ));
        }
        if self.batch_size == 0 {
            return Err(AdtError::config("batch_size", "must be >= 1"));
        }
        if self.m == 0 {
            return Err(AdtError::config("m", "must be >= 1 sampling step"));
        }
        if self.adversarial {
            if self.k == 0 {
                return Err(AdtError::config(
                    "k",
                    "must be >= 1 when adversarial = true",
                ));
            }
            if self.k > self.m {
                return Err(AdtError::config(
                    "k",
                    format!(
                        "K = {} is larger than the m = {} sampling steps run",
                        self.k, self.m
                    ),
                ));
            }
            if self.bn_group == 0 {
                return Err(AdtError::config("bn_group", "must be >= 1"));
            }
            if self.batch_size < self.bn_group {
                return Err(AdtError::config(
                    "batch_size",
                    format!(
                        "batch of {} is smaller than the local batch-norm group bn_group = {}{}",
                        self.batch_size,
                        self.bn_group,
                        accum_hint(self.grad_accum)
                    ),
                ));
            }
            if !self.batch_size.is_multiple_of(self.bn_group) {
                return Err(AdtError::config(
                    "batch_size",
                    format!(
                        "must be a multiple of the local batch-norm group bn_group = {}, got {}{}",
                        self.bn_group,
                        self.batch_size,
                        accum_hint(self.grad_accum)
                    ),
                ));
            }
            if self.cmap_dim == 0 {
                return Err(AdtError::config("cmap_dim", "must be >= 1"));
            }
            if self.head_kernel == 0 || self.head_kernel.is_multiple_of(2) {
                return Err(AdtError::config(
                    "head_kernel",
                    format!("must be odd and >= 1, got {}", self.head_kernel),
                ));
            }
            if self.d_steps_per_g == 0 {
                return Err(AdtError::config("d_steps_per_g", "must be >= 1"));
            }
        }
        if self.adversarial
            && self.skip_path == SkipPath::Detached
            && self.k_policy != KPolicy::Last
        {
            return Err(AdtError::config(
                "skip_path",
                "`detached` lets only the last step's prediction reach x̂0, so randomly selected \
                 graph steps would get no gradient; use k_policy = \"last\" with it",
            ));
        }
        non_negative("lambda_adv", self.lambda_adv)?;
        non_negative("lambda_diff", self.lambda_diff)?;
        if !self.adversarial && self.lambda_diff == 0.0 {
            return Err(AdtError::config(
                "lambda_diff",
                "must be > 0 for a plain fine-tune (adversarial = false): nothing would be trained",
            ));
        }
        if !(self.cfg_scale.is_finite() && self.cfg_scale >= 1.0) {
            return Err(AdtError::config(
                "cfg_scale",
                format!("must be >= 1 (1 = guidance off), got {}", self.cfg_scale),
            ));
        }
        if !self.logit_mean.is_finite() {
            return Err(AdtError::config("logit_mean", "must be finite"));
        }
        if !(self.logit_std.is_finite() && self.logit_std > 0.0) {
            return Err(AdtError::config(
                "logit_std",
                format!("must be > 0, got {}", self.logit_std),
            ));
        }
        // SD3 paper (Esser et al. 2024, §3.1): the mode density is a valid, monotone
        // transform of the uniform for −1 ≤ s ≤ 2/(π − 2).
        let max_scale = 2.0 / (std::f64::consts::PI - 2.0);
        if !(-1.0..=max_scale).contains(&self.mode_scale) {
            return Err(AdtError::config(
                "mode_scale",
                format!(
                    "must be in [-1, 2/(π−2) = {max_scale:.4}], got {}",
                    self.mode_scale
                ),
            ));
        }
        non_negative("r1_gamma", self.r1_gamma)?;
        if !(self.r1_fd_step.is_finite() && self.r1_fd_step > 0.0) {
            return Err(AdtError::config("r1_fd_step", "must be > 0"));
        }
        if !(self.cosine_scale.is_finite() && self.cosine_scale > 0.0) {
            return Err(AdtError::config("cosine_scale", "must be > 0"));
        }
        self.augment_policy()?;
        if !(0.0..=0.5).contains(&self.translation_ratio) {
            return Err(AdtError::config(
                "translation_ratio",
                format!("must be in [0, 0.5], got {}", self.translation_ratio),
            ));
        }
        if !(0.0..=1.0).contains(&self.cutout_ratio) {
            return Err(AdtError::config(
                "cutout_ratio",
                format!("must be in [0, 1], got {}", self.cutout_ratio),
            ));
        }
        self.g_optim.validate("g_optim")?;
        self.d_optim.validate("d_optim")?;
        if !(0.0..=1.0).contains(&self.lr_schedule.min_lr_ratio) {
            return Err(AdtError::config(
                "lr_schedule.min_lr_ratio",
                format!("must be in [0, 1], got {}", self.lr_schedule.min_lr_ratio),
            ));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(AdtError::config(
                "ema_decay",
                format!("must be in [0, 1), got {}", self.ema_decay),
            ));
        }
        if let Some(lora) = &self.lora {
            lora.validate()?;
        }
        if self.keep_checkpoints == 0 {
            return Err(AdtError::config("keep_checkpoints", "must be >= 1"));
        }
        if self.max_nonfinite_in_row == 0 {
            return Err(AdtError::config("max_nonfinite_in_row", "must be >= 1"));
        }
        Ok(())
    }
}
