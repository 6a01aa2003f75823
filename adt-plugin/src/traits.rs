//! The seams: the small traits a model family implements so the engine can tune it.
//!
//! The engine never names a concrete model. A family provides
//! - a trainable [`Denoiser`] (per-sample timesteps; ε, v or flow-velocity prediction),
//! - a [`NoiseSchedule`] for the training loss and a [`Sampler`] that exposes the deployment
//!   sampler one step at a time (image-to-image start, `add_noise`, a differentiable `step`),
//! - a frozen [`Codec`] (VAE; [`crate::toy::IdentityCodec`]-like for pixel models),
//! - a frozen [`Conditioner`] (prompts → [`TextEmbedding`], plus per-sample [`MicroCond`] →
//!   [`Conditioning`]),
//! - a frozen [`Backbone`] (image → token taps + CLS) for the discriminator.
//!
//! Conventions every implementation must follow:
//! - Images are `[B, 3, H, W]` in `[-1, 1]`. Latents are whatever the codec produces, already
//!   scaled (e.g. SD's `0.18215`), so `x_t = α·x0 + σ·ε` holds in latent space.
//! - All `forward`s must be differentiable with respect to their tensor inputs (the engine needs
//!   gradients through the decoder, the backbone and the sampler step). Frozen modules get
//!   `no_grad()` from the engine, so they must not depend on gradient-tracking of their own params.
//! - Timesteps are a float `[B]` tensor in the model's own units (0..1000 for SD1.5/SDXL, σ·1000 for
//!   SD3): the value the model is called with, per sample.

use burn::module::{Module, ModuleDisplay};
use burn::prelude::*;

/// What the denoiser predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// Noise ε (SD1.5, SDXL base).
    Epsilon,
    /// v = α·ε − σ·x0 (SD2.x 768, v-prediction fine-tunes).
    V,
    /// Flow velocity u = ε − x0 for `x_t = (1−t)·x0 + t·ε` (SD3 rectified flow).
    Flow,
}

/// A batch of prompts encoded by a [`Conditioner`]: the part of a condition that depends only
/// on the text, so it can be cached on disk.
#[derive(Clone, Debug)]
pub struct TextEmbedding {
    /// Prompt embedding `[B, L, C]` (CLIP hidden states; SDXL: both encoders concatenated).
    pub hidden: Tensor<3>,
    /// Pooled embedding `[B, P]` (CLIP's EOS state; SDXL's `text_embeds`), if the encoder has one.
    pub pooled: Option<Tensor<2>>,
}

impl TextEmbedding {
    /// Every row repeated `times` times along the batch (a one-prompt embedding for a batch).
    pub fn repeat(&self, times: usize) -> Self {
        Self {
            hidden: self.hidden.clone().repeat_dim(0, times),
            pooled: self.pooled.clone().map(|p| p.repeat_dim(0, times)),
        }
    }
}

/// Per-sample size micro-conditioning (SDXL's `time_ids`): where the image the model sees
/// was cut from. Families without it ignore it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MicroCond {
    /// Size of the source image before resize and crop, `(height, width)`.
    pub original_size: (u32, u32),
    /// Top-left corner of the crop window in the resized image, `(top, left)`.
    pub crop_top_left: (u32, u32),
    /// Size of the image the model sees, `(height, width)`.
    pub target_size: (u32, u32),
    /// The aesthetic score a refiner-style model is conditioned on instead of `target_size`
    /// (diffusers' `StableDiffusionXLImg2ImgPipeline` default: 6.0).
    pub aesthetic_score: f32,
}

impl MicroCond {
    /// An uncropped image of `(height, width)` shown at its own size, aesthetic score 6.0:
    /// what diffusers' pipelines use when the caller gives nothing else.
    pub fn full(size: (u32, u32)) -> Self {
        Self {
            original_size: size,
            crop_top_left: (0, 0),
            target_size: size,
            aesthetic_score: 6.0,
        }
    }
}

/// The condition of a batch: what a [`Denoiser`] is conditioned on.
#[derive(Clone, Debug)]
pub struct Conditioning {
    /// Prompt embedding `[B, L, C]` (CLIP hidden states; SDXL: both encoders concatenated).
    pub hidden: Tensor<3>,
    /// Pooled embedding `[B, P]` (SDXL/SD3 text_embeds), if the model uses one.
    pub pooled: Option<Tensor<2>>,
    /// Extra ids `[B, N]` (SDXL micro-conditioning `time_ids`), if any.
    pub ids: Option<Tensor<2>>,
}

impl Conditioning {
    /// A condition with only the prompt embedding.
    pub fn new(hidden: Tensor<3>) -> Self {
        Self {
            hidden,
            pooled: None,
            ids: None,
        }
    }

    /// Batch size.
    pub fn batch_size(&self) -> usize {
        self.hidden.dims()[0]
    }

    /// Concatenate two conditions along the batch (used to batch CFG's uncond + cond passes).
    /// Optional parts must be present in both or in neither.
    pub fn cat(a: &Self, b: &Self) -> Self {
        let opt = |x: &Option<Tensor<2>>, y: &Option<Tensor<2>>, what: &str| match (x, y) {
            (Some(x), Some(y)) => Some(Tensor::cat(vec![x.clone(), y.clone()], 0)),
            (None, None) => None,
            _ => panic!("Conditioning::cat: `{what}` present in only one of the two conditions"),
        };
        Self {
            hidden: Tensor::cat(vec![a.hidden.clone(), b.hidden.clone()], 0),
            pooled: opt(&a.pooled, &b.pooled, "pooled"),
            ids: opt(&a.ids, &b.ids, "ids"),
        }
    }

    /// Samples `start..start + len` of the batch.
    pub fn rows(&self, start: usize, len: usize) -> Self {
        let rows2 = |t: &Option<Tensor<2>>| t.clone().map(|t| t.narrow(0, start, len));
        Self {
            hidden: self.hidden.clone().narrow(0, start, len),
            pooled: rows2(&self.pooled),
            ids: rows2(&self.ids),
        }
    }

    /// Detached copy (conditions are constants to the engine).
    pub fn detach(&self) -> Self {
        Self {
            hidden: self.hidden.clone().detach(),
            pooled: self.pooled.clone().map(|t| t.detach()),
            ids: self.ids.clone().map(|t| t.detach()),
        }
    }
}

impl From<TextEmbedding> for Conditioning {
    /// The text alone, without micro-conditioning ids.
    fn from(text: TextEmbedding) -> Self {
        Self {
            hidden: text.hidden,
            pooled: text.pooled,
            ids: None,
        }
    }
}

/// A condition plus its unconditional counterpart for classifier-free guidance.
#[derive(Clone, Debug)]
pub struct CondPair {
    /// The prompt's condition.
    pub cond: Conditioning,
    /// The empty-prompt condition (same batch size), present when CFG is used.
    pub uncond: Option<Conditioning>,
}

impl CondPair {
    /// Samples `start..start + len` of both conditions.
    pub fn rows(&self, start: usize, len: usize) -> Self {
        Self {
            cond: self.cond.rows(start, len),
            uncond: self.uncond.as_ref().map(|u| u.rows(start, len)),
        }
    }
}

/// The trainable network θ: `x_t, t[B], c → prediction`.
pub trait Denoiser: Module + ModuleDisplay + Sync + 'static {
    /// What `forward` predicts.
    fn prediction(&self) -> Prediction;

    /// Predict ε, v or the flow velocity for `x_t` `[B, C, H, W]` at per-sample timesteps `[B]`.
    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4>;
}

/// One noise level: the model timestep and the mixing coefficients of `x_t = α·x0 + σ·ε`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseLevel {
    /// Timestep value passed to the denoiser.
    pub timestep: f32,
    /// α_t (√ᾱ for DDPM-family, 1−t for flow).
    pub alpha: f32,
    /// σ_t (√(1−ᾱ) for DDPM-family, t for flow).
    pub sigma: f32,
}

/// The training-time noise schedule used by `L_diff`.
pub trait NoiseSchedule: Send + Sync + std::fmt::Debug {
    /// Map a draw u ∈ (0, 1) — uniform or logit-normal, per the config — to a noise level.
    /// DDPM-family schedules typically use `t = floor(u · 1000)`; flow schedules `t = u`.
    fn training_level(&self, u: f64) -> NoiseLevel;
}

/// Per-trajectory memory of a multistep sampler (e.g. DPM-Solver++ 2M keeps the previous model
/// output). The engine creates one per simulated trajectory and passes it to every `step`.
#[derive(Clone, Debug, Default)]
pub struct SamplerHistory {
    /// Previous model outputs / x0 estimates, oldest first, as the sampler chooses to store them.
    pub outputs: Vec<Tensor<4>>,
    /// Steps this trajectory has taken so far (samplers that keep only the last output in
    /// `outputs` still know their order from it).
    pub steps: usize,
}

/// The deployment sampler, exposed one step at a time.
///
/// For `m` steps the sampler has levels `0..m`: step `i` takes `x` at level `timesteps(m)[i]`
/// (index 0 is the noisiest) and returns `x` at level `i+1` (the clean sample after `m-1`).
/// `step` must be a differentiable function of `x`, `model_output` and the history: the engine
/// relies on it for the linear skip path `x_{i+1} = a_i·x_i + b_i·ε̂_i`.
pub trait Sampler: Send + Sync + std::fmt::Debug {
    /// Short name (`ddim`, `euler`, …), for logs.
    fn name(&self) -> String;

    /// Model timesteps of the `m` steps, noisiest first (length `m`).
    fn timesteps(&self, m: usize) -> Vec<f32>;

    /// Noise a clean sample to the level at which step `index` starts (image-to-image start).
    fn add_noise(&self, m: usize, index: usize, x0: Tensor<4>, noise: Tensor<4>) -> Tensor<4>;

    /// Scale `x` before the model call at step `index` (Euler-family `x/√(σ²+1)`); identity by default.
    fn scale_model_input(&self, _m: usize, _index: usize, x: Tensor<4>) -> Tensor<4> {
        x
    }

    /// The deployment's text-to-image start from unit Gaussian `noise` (diffusers:
    /// `noise · init_noise_sigma`); identity by default (DDIM, DDPM, DPM-Solver++, flow).
    fn initial_noise(&self, _m: usize, noise: Tensor<4>) -> Tensor<4> {
        noise
    }

    /// One update from level `index` to `index + 1` given the model output at `x`.
    fn step(
        &self,
        m: usize,
        index: usize,
        x: Tensor<4>,
        model_output: Tensor<4>,
        history: &mut SamplerHistory,
    ) -> Tensor<4>;
}

/// The frozen codec between pixels and the denoiser's space (VAE, or identity for pixel models).
pub trait Codec: Module + ModuleDisplay + Sync + 'static {
    /// Images `[B,3,H,W]` in `[-1,1]` → scaled latents (deterministic: the posterior mean).
    fn encode(&self, images: Tensor<4>) -> Tensor<4>;
    /// Scaled latents → images in `[-1,1]` (differentiable w.r.t. the latents).
    fn decode(&self, latents: Tensor<4>) -> Tensor<4>;
}

/// The frozen prompt encoder and the family's conditioning rule.
///
/// Conditioning is split in two so the text part can be cached: [`Self::encode_text`]
/// depends only on the prompts; [`Self::condition`] adds what depends on each sample's
/// image geometry (SDXL's size/crop `time_ids`).
pub trait Conditioner: Module + ModuleDisplay + Sync + 'static {
    /// Encode a batch of prompts on `device` (must accept `""`).
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding;

    /// The text embedding of classifier-free guidance's unconditional branch when no negative
    /// prompt is given (diffusers' `negative_prompt=None`): the empty prompt's embedding by
    /// default; zeros where the checkpoint says so (SDXL's `force_zeros_for_empty_prompt`).
    fn unconditional_text(&self, batch: usize, device: &Device) -> TextEmbedding {
        self.encode_text(&vec![String::new(); batch], device)
    }

    /// The unconditional branch's micro-conditioning for a sample whose conditional branch
    /// has `positive`, when the caller gives none: `positive` itself by default (diffusers'
    /// SDXL base pipelines); the refiner's negative aesthetic score and `(0, 0)` crop.
    fn negative_micro(&self, positive: &MicroCond) -> MicroCond {
        *positive
    }

    /// The denoiser's condition for `text` and one [`MicroCond`] per sample. The default
    /// ignores the micro-conditioning (SD1.x/2.x).
    fn condition(&self, text: TextEmbedding, micro: &[MicroCond]) -> Conditioning {
        let _ = micro;
        text.into()
    }

    /// What [`Self::encode_text`] would silently change in `prompts` (e.g. truncation to an
    /// encoder's length, naming the limit), one message per problem, for binaries to print.
    /// None by default.
    fn prompt_warnings(&self, prompts: &[String]) -> Vec<String> {
        let _ = prompts;
        Vec::new()
    }

    /// The settings besides the weights that change [`Self::encode_text`]'s output (e.g. a
    /// sequence length), for cache keys; empty by default.
    fn encoding_settings(&self) -> String {
        String::new()
    }
}

/// One feature tap of the backbone.
#[derive(Clone, Debug)]
pub struct Tap {
    /// Patch tokens `[B, N, C]` (CLS excluded).
    pub tokens: Tensor<3>,
    /// The CLS token at the same depth `[B, C]`.
    pub cls: Tensor<2>,
}

/// Backbone output for a batch of images.
#[derive(Clone, Debug)]
pub struct BackboneFeatures {
    /// The tapped layers, in [`Backbone::tap_channels`] order.
    pub taps: Vec<Tap>,
    /// Final (normalised) CLS embedding `[B, E]`, used for the projection embedding.
    pub cls: Tensor<2>,
}

impl BackboneFeatures {
    /// Every tap and the CLS embedding in `dtype` (a no-op for tensors already in it).
    pub fn cast(self, dtype: burn::tensor::DType) -> Self {
        Self {
            taps: self
                .taps
                .into_iter()
                .map(|t| Tap {
                    tokens: t.tokens.cast(dtype),
                    cls: t.cls.cast(dtype),
                })
                .collect(),
            cls: self.cls.cast(dtype),
        }
    }
}

/// The frozen feature network of the discriminator (DINOv2 by default).
pub trait Backbone: Module + ModuleDisplay + Sync + 'static {
    /// Channel width of each tap.
    fn tap_channels(&self) -> Vec<usize>;
    /// Width `E` of [`BackboneFeatures::cls`].
    fn embed_dim(&self) -> usize;
    /// Images `[B,3,H,W]` in `[-1,1]` of any size → features. Does its own resize and
    /// normalisation, differentiably w.r.t. the images.
    fn forward(&self, images: Tensor<4>) -> BackboneFeatures;
}
