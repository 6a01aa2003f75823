//! [`AdtModel`]: the trainable pair (generator θ + discriminator heads) as one burn module, plus
//! the frozen context it runs with, and the pieces of one ADT iteration.
//!
//! The frozen modules (codec, conditioner, backbone) live in [`FrozenContext`], a skipped field:
//! they are not part of the model's record (checkpoints hold only what is trained) and their
//! parameters are `no_grad()`, so they never receive gradients and stay bit-identical.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use burn::prelude::*;
use burn::tensor::DType;
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use crate::augment::AugmentPolicy;
use crate::components::{Components, Parts};
use crate::config::{AdtConfig, LossWeighting, TimestepSampling};
use crate::discriminator::{DiscSettings, Discriminator};
use crate::error::{AdtError, Result};
use crate::losses;
use crate::metrics::{AdtOutput, StepMetrics};
use crate::precision::{Compute, compute_copy};
use crate::rng::EngineRng;
use crate::traits::{
    Backbone, BackboneFeatures, Codec, CondPair, Conditioner, Denoiser, MicroCond, NoiseLevel,
    NoiseSchedule, Prediction, Sampler, TextEmbedding,
};

/// A training batch: real images, their prompts and where each image was cut from.
#[derive(Clone, Debug)]
pub struct AdtBatch {
    /// Images `[B, 3, H, W]` in `[-1, 1]`.
    pub images: Tensor<4>,
    /// One prompt per image.
    pub prompts: Vec<String>,
    /// Per-sample micro-conditioning: each image's original size and crop (from the data
    /// pipeline) and the size the model sees; handed to [`Conditioner::condition`].
    pub micro: Vec<MicroCond>,
    /// Cached codec output for `images` (already scaled), used instead of encoding them.
    pub latents: Option<Tensor<4>>,
    /// Cached prompt embeddings ([`Conditioner::encode_text`] of `prompts`), used instead of
    /// encoding them.
    pub text: Option<TextEmbedding>,
}

impl AdtBatch {
    /// The batch with its tensors on `device` (a data-parallel replica's share).
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            images: self.images.clone().to_device(device),
            prompts: self.prompts.clone(),
            micro: self.micro.clone(),
            latents: self.latents.clone().map(|z| z.to_device(device)),
            text: self.text.as_ref().map(|t| TextEmbedding {
                hidden: t.hidden.clone().to_device(device),
                pooled: t.pooled.clone().map(|p| p.to_device(device)),
            }),
        }
    }

    /// Images and prompts, each image taken whole at its own size; the engine encodes both.
    pub fn new(images: Tensor<4>, prompts: Vec<String>) -> Self {
        let [b, _, h, w] = images.dims();
        Self {
            images,
            prompts,
            micro: vec![MicroCond::full((h as u32, w as u32)); b],
            latents: None,
            text: None,
        }
    }
}

/// The frozen modules and the schedule/sampler of a run.
pub struct FrozenContext<K: Components> {
    /// VAE or identity (params `no_grad`).
    pub codec: K::Codec,
    /// Prompt encoder (params `no_grad`).
    pub conditioner: K::Conditioner,
    /// Discriminator backbone (params `no_grad`; cast to bf16 with
    /// `backbone_precision = "bf16"`: call it through [`FrozenContext::features`]).
    pub backbone: K::Backbone,
    /// With `vae_precision = "bf16"`: a copy of the codec in that dtype for the training
    /// step's decode and encode ([`FrozenContext::decode`]); `codec` stays f32 for the latent
    /// cache.
    codec_compute: Option<(K::Codec, DType)>,
    /// Training noise schedule of `L_diff`.
    pub schedule: Arc<dyn NoiseSchedule>,
    /// Deployment sampler.
    pub sampler: Arc<dyn Sampler>,
    /// The engine config.
    pub config: AdtConfig,
    /// Parsed DiffAugment policy.
    pub augment: AugmentPolicy,
    /// RNG used only by the plain `TrainStep`/`InferenceStep` entry points (burn's default loop).
    pub step_rng: Mutex<EngineRng>,
    /// CFG's unconditional text embedding of one sample, encoded on first use (it is the
    /// same every step; see [`FrozenContext::unconditional_text`]).
    unconditional: OnceLock<TextEmbedding>,
}

impl<K: Components> fmt::Debug for FrozenContext<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrozenContext")
            .field("schedule", &self.schedule)
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl<K: Components> FrozenContext<K> {
    /// Freeze the modules (`no_grad`) and validate the config.
    pub fn new(
        config: AdtConfig,
        codec: K::Codec,
        conditioner: K::Conditioner,
        backbone: K::Backbone,
        schedule: Arc<dyn NoiseSchedule>,
        sampler: Arc<dyn Sampler>,
    ) -> Result<Self> {
        config.validate()?;
        let augment = config
            .augment_policy()?
            .with_ratios(config.translation_ratio, config.cutout_ratio);
        let step_rng = Mutex::new(EngineRng::derived(config.seed, 0x5eed));
        let codec = codec.no_grad();
        let codec_compute = config
            .vae_precision
            .dtype()
            .map(|d| (compute_copy(&codec, d), d));
        let backbone = match config.backbone_precision.dtype() {
            Some(d) => compute_copy(&backbone, d),
            None => backbone,
        };
        Ok(Self {
            codec,
            codec_compute,
            conditioner: conditioner.no_grad(),
            backbone: backbone.no_grad(),
            schedule,
            sampler,
            config,
            augment,
            step_rng,
            unconditional: OnceLock::new(),
        })
    }

    /// The same context with its frozen modules on `device` (a data-parallel replica).
    pub fn replica(&self, device: &Device) -> Self {
        Self {
            codec: self.codec.clone().fork(device),
            codec_compute: self.codec_compute.clone().map(|(c, d)| (c.fork(device), d)),
            conditioner: self.conditioner.clone().fork(device),
            backbone: self.backbone.clone().fork(device),
            schedule: self.schedule.clone(),
            sampler: self.sampler.clone(),
            config: self.config.clone(),
            augment: self.augment,
            step_rng: Mutex::new(self.step_rng.lock().expect("step rng poisoned").clone()),
            unconditional: OnceLock::new(),
        }
    }

    /// Scaled latents → images in `[-1, 1]`, differentiably, in `vae_precision` (images f32).
    pub fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        match &self.codec_compute {
            Some((c, d)) => c.decode(latents.cast(*d)).cast(DType::F32),
            None => self.codec.decode(latents),
        }
    }

    /// Images → scaled latents in `vae_precision` (latents f32).
    pub fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        match &self.codec_compute {
            Some((c, d)) => c.encode(images.cast(*d)).cast(DType::F32),
            None => self.codec.encode(images),
        }
    }

    /// The backbone's features of `images`, computed in `backbone_precision` (the backbone
    /// takes f32 images and runs in its weights' dtype) and handed to the heads in f32.
    pub fn features(&self, images: Tensor<4>) -> BackboneFeatures {
        // A no-op cast in f32.
        self.backbone.forward(images).cast(DType::F32)
    }

    /// The conditioner's unconditional text embedding for `batch` samples: encoded once for
    /// one sample (the text encoders run on the first call only), then repeated.
    pub fn unconditional_text(&self, batch: usize, device: &Device) -> TextEmbedding {
        self.unconditional
            .get_or_init(|| self.conditioner.unconditional_text(1, device))
            .repeat(batch)
    }
}

/// The trainable modules, with the frozen context alongside (skipped by the record).
#[derive(Module, Debug)]
pub struct AdtModel<K: Components> {
    /// The generator θ.
    pub generator: K::Denoiser,
    /// The discriminator heads.
    pub discriminator: Discriminator,
    /// Frozen modules, schedule, sampler, config.
    #[module(skip)]
    pub ctx: Arc<FrozenContext<K>>,
}

impl<K: Components> AdtModel<K> {
    /// This model with a fork of its generator on `device`: the same weights as new leaves,
    /// so a graph through it is separate from any other (it can run beside one, and its
    /// backward pass does not wait on theirs); its gradients carry the same parameter ids.
    pub fn fork_generator(&self, device: &Device) -> Self {
        Self {
            generator: self.generator.clone().fork(device),
            discriminator: self.discriminator.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

/// A batch prepared for one iteration: constants shared by the D and G updates.
#[derive(Clone, Debug)]
pub struct PreparedBatch {
    /// Latents of the real images `[B, c, h, w]`.
    pub x0: Tensor<4>,
    /// Real images `[B, 3, H, W]`.
    pub real: Tensor<4>,
    /// Conditions (and unconditional ones when CFG is on).
    pub cond: CondPair,
}

impl PreparedBatch {
    /// Samples `start..start + len` of the batch.
    pub fn rows(&self, start: usize, len: usize) -> Self {
        Self {
            x0: self.x0.clone().narrow(0, start, len),
            real: self.real.clone().narrow(0, start, len),
            cond: self.cond.rows(start, len),
        }
    }
}

/// The draws of one `L_diff` evaluation.
#[derive(Clone, Debug)]
pub struct DiffusionDraws {
    /// Per-sample noise levels.
    pub levels: Vec<NoiseLevel>,
    /// Noise ε, shaped like the latents.
    pub noise: Tensor<4>,
}

impl DiffusionDraws {
    /// The draws of samples `start..start + len` (one micro-batch of an accumulated step).
    pub fn rows(&self, start: usize, len: usize) -> Self {
        Self {
            levels: self.levels[start..start + len].to_vec(),
            noise: self.noise.clone().narrow(0, start, len),
        }
    }
}

impl<K: Components> AdtModel<K> {
    /// Freeze the frozen parts and build the pair from `parts` and `config`: LoRA adapters on
    /// the generator with `[adt.lora]` (its base weights frozen), discriminator
    /// heads sized from the backbone (and, with `text_cond`, the conditioner's pooled width,
    /// read from one empty prompt), initialised from `rng`.
    pub fn from_parts(
        config: AdtConfig,
        parts: Parts<K>,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Result<Self> {
        let Parts {
            generator,
            codec,
            conditioner,
            backbone,
            schedule,
            sampler,
        } = parts;
        let ctx = Arc::new(FrozenContext::new(
            config,
            codec,
            conditioner,
            backbone,
            schedule,
            sampler,
        )?);
        Self::new(generator, ctx, rng, device)
    }

    /// Build the pair on an existing frozen context (LoRA adapters on the generator with
    /// `[adt.lora]`).
    pub fn new(
        generator: K::Denoiser,
        ctx: Arc<FrozenContext<K>>,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Result<Self> {
        let c = &ctx.config;
        let generator = match &c.lora {
            Some(lora) => crate::lora::apply_lora(
                generator,
                lora,
                &mut EngineRng::derived(c.seed, crate::lora::INIT_STREAM),
            )?,
            None => generator,
        };
        let flow = generator.prediction() == Prediction::Flow;
        if c.loss_weighting != LossWeighting::None && !flow {
            return Err(AdtError::config(
                "loss_weighting",
                format!(
                    "{:?} weights L_diff by the flow noise level σ (for flow-matching models); \
                     this denoiser predicts {:?}: use \"none\"",
                    c.loss_weighting,
                    generator.prediction()
                ),
            ));
        }
        if c.precondition_outputs.is_some() && !flow {
            return Err(AdtError::config(
                "precondition_outputs",
                format!(
                    "applies to flow-matching models only; this denoiser predicts {:?}: remove it",
                    generator.prediction()
                ),
            ));
        }
        let text_dim = if c.adversarial && c.text_cond {
            let pooled = ctx
                .conditioner
                .encode_text(&[String::new()], device)
                .pooled
                .ok_or_else(|| {
                    AdtError::config(
                        "text_cond",
                        "the conditioner gives no pooled prompt embedding to condition the \
                         discriminator heads on",
                    )
                })?;
            Some(pooled.dims()[1])
        } else {
            None
        };
        let discriminator = Discriminator::new(
            &ctx.backbone.tap_channels(),
            ctx.backbone.embed_dim(),
            text_dim,
            c.cmap_dim,
            c.head_kernel,
            c.bn_group,
            DiscSettings {
                score: c.score,
                cosine_scale: c.cosine_scale,
            },
            rng,
            device,
        );
        Ok(Self {
            generator,
            discriminator,
            ctx,
        })
    }

    /// Encode and condition a batch (constants; nothing here carries a graph).
    pub fn prepare(&self, batch: &AdtBatch) -> Result<PreparedBatch> {
        let [b, ch, _, _] = batch.images.dims();
        if ch != 3 {
            return Err(AdtError::Shape {
                what: "batch images",
                message: format!("expected [B, 3, H, W], got {:?}", batch.images.dims()),
            });
        }
        if batch.prompts.len() != b {
            return Err(AdtError::Shape {
                what: "batch prompts",
                message: format!("{} prompts for {b} images", batch.prompts.len()),
            });
        }
        if batch.micro.len() != b {
            return Err(AdtError::Shape {
                what: "batch micro-conditioning",
                message: format!("{} entries for {b} images", batch.micro.len()),
            });
        }
        let pixels = batch.images.clone().detach();
        let device = pixels.device();
        let x0 = match &batch.latents {
            Some(z) => z.clone().detach(),
            None => self.ctx.encode(pixels.clone()).detach(),
        };
        if x0.dims()[0] != b {
            return Err(AdtError::Shape {
                what: "batch latents",
                message: format!("{} cached latents for {b} images", x0.dims()[0]),
            });
        }
        // What D sees as real: the pixels, or their VAE round trip (`real_through_vae`).
        let real = if self.ctx.config.real_through_vae {
            self.ctx.decode(x0.clone()).detach()
        } else {
            pixels
        };
        let conditioner = &self.ctx.conditioner;
        let text = match &batch.text {
            Some(t) => t.clone(),
            None => conditioner.encode_text(&batch.prompts, &device),
        };
        let cond = conditioner.condition(text, &batch.micro).detach();
        let rows = |t: &Option<Tensor<2>>| t.as_ref().map_or(b, |t| t.dims()[0]);
        if cond.batch_size() != b || rows(&cond.pooled) != b || rows(&cond.ids) != b {
            return Err(AdtError::Shape {
                what: "batch text embeddings",
                message: format!(
                    "conditions of {} / {} / {} rows (prompt, pooled, ids) for {b} images",
                    cond.batch_size(),
                    rows(&cond.pooled),
                    rows(&cond.ids)
                ),
            });
        }
        // The unconditional branch as deployed: no negative prompt, the family's negative
        // micro-conditioning.
        let uncond = (self.ctx.config.cfg_scale > 1.0).then(|| {
            let u = self.ctx.unconditional_text(b, &device);
            let micro: Vec<MicroCond> = batch
                .micro
                .iter()
                .map(|m| conditioner.negative_micro(m))
                .collect();
            conditioner.condition(u, &micro).detach()
        });
        Ok(PreparedBatch {
            x0,
            real,
            cond: CondPair { cond, uncond },
        })
    }

    /// Draw `L_diff` timesteps and noise for latents shaped `shape`.
    pub fn draw_diffusion(
        &self,
        shape: [usize; 4],
        rng: &mut EngineRng,
        device: &Device,
    ) -> DiffusionDraws {
        let c = &self.ctx.config;
        let density = match c.timestep_sampling {
            TimestepSampling::Uniform => losses::Density::Uniform,
            TimestepSampling::LogitNormal => losses::Density::LogitNormal {
                mean: c.logit_mean,
                std: c.logit_std,
            },
            TimestepSampling::Mode => losses::Density::Mode {
                scale: c.mode_scale,
            },
        };
        let levels = (0..shape[0])
            .map(|_| {
                self.ctx
                    .schedule
                    .training_level(losses::training_fraction(rng, density))
            })
            .collect();
        let noise = rng.normal_tensor(shape, device);
        DiffusionDraws { levels, noise }
    }

    /// `L_diff` of the generator on the prepared real latents (with graph through θ).
    pub fn diffusion_loss(&self, prep: &PreparedBatch, draws: &DiffusionDraws) -> Tensor<1> {
        let x_t = losses::add_noise(prep.x0.clone(), draws.noise.clone(), &draws.levels);
        let b = draws.levels.len();
        let t: Vec<f32> = draws.levels.iter().map(|l| l.timestep).collect();
        let t = Tensor::<1>::from_data(TensorData::new(t, [b]), &x_t.device());
        let pred = match self.ctx.config.precision.dtype() {
            None => self.generator.forward(x_t.clone(), t, &prep.cond.cond),
            Some(d) => Compute::new(&self.generator, d).forward(x_t.clone(), t, &prep.cond.cond),
        };
        let prediction = self.generator.prediction();
        let (pred, target) = if prediction == Prediction::Flow
            && self.ctx.config.precondition_outputs != Some(false)
        {
            (losses::flow_x0(x_t, pred, &draws.levels), prep.x0.clone())
        } else {
            let target = losses::diffusion_target(
                prediction,
                prep.x0.clone(),
                draws.noise.clone(),
                &draws.levels,
            );
            (pred, target)
        };
        match self.ctx.config.loss_weighting {
            LossWeighting::None => losses::diffusion_loss(pred, target),
            w => {
                let weights: Vec<f32> = draws.levels.iter().map(|l| w.weight(l.sigma)).collect();
                losses::weighted_diffusion_loss(pred, target, &weights)
            }
        }
    }
}

fn host_scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f64>()
}

impl<K: Components> TrainStep for AdtModel<K> {
    type Input = AdtBatch;
    type Output = AdtOutput;

    /// burn's default-loop entry point: a plain diffusion fine-tuning step (generator gradients of
    /// `λ_diff·L_diff` only). The ADT alternation is [`crate::strategy::AdtStrategy`].
    fn step(&self, item: AdtBatch) -> TrainOutput<AdtOutput> {
        let prep = self.prepare(&item).expect("invalid batch");
        let draws = {
            let mut rng = self.ctx.step_rng.lock().expect("step rng poisoned");
            self.draw_diffusion(prep.x0.dims(), &mut rng, &prep.x0.device())
        };
        let l = self.diffusion_loss(&prep, &draws);
        let total = l.clone().mul_scalar(self.ctx.config.lambda_diff);
        let v = host_scalar(&l);
        let mut grads = total.backward();
        let grads = burn::optim::GradientsParams::from_module(&mut grads, &self.generator);
        TrainOutput {
            grads,
            item: AdtOutput {
                metrics: StepMetrics {
                    l_diff: Some(v),
                    g_total: Some(v * self.ctx.config.lambda_diff),
                    ..Default::default()
                },
            },
        }
    }
}

impl<K: Components> InferenceStep for AdtModel<K> {
    type Input = AdtBatch;
    type Output = AdtOutput;

    /// Validation: `L_diff` with draws from a fixed stream (comparable across evaluations).
    fn step(&self, item: AdtBatch) -> AdtOutput {
        let prep = self.prepare(&item).expect("invalid batch");
        let mut rng = EngineRng::derived(self.ctx.config.seed, 0x7a11d);
        let draws = self.draw_diffusion(prep.x0.dims(), &mut rng, &prep.x0.device());
        let v = host_scalar(&self.diffusion_loss(&prep, &draws));
        AdtOutput {
            metrics: StepMetrics {
                l_diff: Some(v),
                ..Default::default()
            },
        }
    }
}
