//! Tiny stand-ins for every seam, used by the tests, the benchmark and the examples until the real
//! models land: a pixel-space conv denoiser, identity and 1×1-conv codecs, a hashed-word
//! conditioner, a patch backbone with taps + CLS, DDIM on a linear-β schedule and flow-matching
//! Euler, and a procedural "coloured squares" dataset.
//!
//! All parameters are initialised from [`EngineRng`](crate::rng::EngineRng), so a seed fixes them.

mod backbone;
mod codec;
mod conditioner;
mod data;
mod denoiser;
mod layers;
mod sampler;

pub use backbone::ToyBackbone;
pub use codec::{IdentityCodec, ToyLatentCodec};
pub use conditioner::ToyConditioner;
pub use data::{ToyBatcher, ToyShapes, toy_loader};
pub use denoiser::ToyDenoiser;
pub use layers::{ToyConv, ToyLinear};
pub use sampler::{FlowEuler, LinearDdim};

use std::marker::PhantomData;
use std::sync::Arc;

use burn::prelude::*;

use crate::components::{Components, Parts};
use crate::config::AdtConfig;
use crate::error::Result;
use crate::model::{AdtModel, FrozenContext};
use crate::rng::EngineRng;
use crate::trainer::AdtTrainer;
use crate::traits::{Conditioner, Denoiser, Prediction};

/// Sizes of the toy setup.
#[derive(Clone, Copy, Debug)]
pub struct ToySizes {
    /// Image side (pixels).
    pub image: usize,
    /// Latent channels of [`ToyLatentCodec`].
    pub latent_channels: usize,
    /// Denoiser width.
    pub width: usize,
    /// Prompt embedding width.
    pub cond_dim: usize,
    /// Backbone width.
    pub backbone_dim: usize,
}

impl Default for ToySizes {
    fn default() -> Self {
        Self {
            image: 16,
            latent_channels: 4,
            width: 16,
            cond_dim: 8,
            backbone_dim: 16,
        }
    }
}

/// The toy components: a denoiser `D` and conditioner `T` (default: the toy ones) with the
/// 1×1-conv latent codec and the patch backbone. Tests swap in a wrapped denoiser or
/// conditioner without writing a components type of their own.
pub struct ToyWith<D = ToyDenoiser, T = ToyConditioner>(PhantomData<fn() -> (D, T)>);

impl<D, T> Clone for ToyWith<D, T> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<D, T> std::fmt::Debug for ToyWith<D, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToyWith")
    }
}

impl<D: Denoiser, T: Conditioner> Components for ToyWith<D, T> {
    type Denoiser = D;
    type Codec = ToyLatentCodec;
    type Conditioner = T;
    type Backbone = ToyBackbone;
}

/// The toy components: ε-prediction denoiser in a 1×1-conv latent space, hashed-word
/// conditioner, patch backbone.
pub type Toy = ToyWith;

/// The toy model pair.
pub type ToyModel = AdtModel<Toy>;

/// The frozen context of the toy family.
pub type ToyContext = FrozenContext<Toy>;

/// Every toy part, initialised from `seed` (independent of the config's training seed).
pub struct ToyParts {
    /// Trainable denoiser.
    pub generator: ToyDenoiser,
    /// Frozen codec.
    pub codec: ToyLatentCodec,
    /// Frozen conditioner.
    pub conditioner: ToyConditioner,
    /// Frozen backbone.
    pub backbone: ToyBackbone,
    /// DDIM schedule + sampler.
    pub ddim: Arc<LinearDdim>,
}

impl ToyParts {
    /// Build with `sizes` on `device` (use an autodiff device for training).
    pub fn new(sizes: ToySizes, seed: u64, device: &Device) -> Self {
        let mut rng = EngineRng::derived(seed, 77);
        Self {
            generator: ToyDenoiser::new(
                sizes.latent_channels,
                sizes.width,
                sizes.cond_dim,
                Prediction::Epsilon,
                &mut rng,
                device,
            ),
            codec: ToyLatentCodec::new(sizes.latent_channels, &mut rng, device),
            conditioner: ToyConditioner::new(64, sizes.cond_dim, 4, &mut rng, device),
            backbone: ToyBackbone::new(sizes.backbone_dim, 4, sizes.image, &mut rng, device),
            ddim: Arc::new(LinearDdim::new(Prediction::Epsilon)),
        }
    }

    /// The frozen context for `config`.
    pub fn context(self, config: AdtConfig) -> Result<(ToyDenoiser, Arc<ToyContext>)> {
        let ctx = FrozenContext::new(
            config,
            self.codec,
            self.conditioner,
            self.backbone,
            self.ddim.clone(),
            self.ddim,
        )?;
        Ok((self.generator, Arc::new(ctx)))
    }

    /// The model pair for `config` (heads initialised like [`AdtTrainer`] does).
    pub fn model(self, config: AdtConfig, device: &Device) -> Result<ToyModel> {
        let seed = config.seed;
        let (g, ctx) = self.context(config)?;
        let mut rng = EngineRng::derived(seed, crate::trainer::streams::HEAD_INIT);
        AdtModel::new(g, ctx, &mut rng, device)
    }

    /// A trainer over `data_len` coloured-squares images.
    pub fn trainer(
        self,
        config: AdtConfig,
        data_len: usize,
        image: usize,
        device: &Device,
    ) -> Result<AdtTrainer<Toy>> {
        let data = toy_loader(data_len, image, config.batch_size, config.seed, device);
        AdtTrainer::new(config, self.parts(), data, device)
    }

    /// The engine's [`Parts`] (DDIM as both schedule and sampler).
    pub fn parts(self) -> Parts<Toy> {
        self.parts_with(|g| g, |c| c)
    }

    /// [`Self::parts`] with the denoiser and conditioner wrapped or replaced.
    pub fn parts_with<D: Denoiser, T: Conditioner>(
        self,
        generator: impl FnOnce(ToyDenoiser) -> D,
        conditioner: impl FnOnce(ToyConditioner) -> T,
    ) -> Parts<ToyWith<D, T>> {
        Parts {
            generator: generator(self.generator),
            codec: self.codec,
            conditioner: conditioner(self.conditioner),
            backbone: self.backbone,
            schedule: self.ddim.clone(),
            sampler: self.ddim,
        }
    }
}

/// A small config suited to the toy models (batch 4, bn group 2, m = 4, short run, fast LRs).
pub fn toy_config() -> AdtConfig {
    AdtConfig {
        model: "toy".into(),
        sampler: Some("ddim".into()),
        total_steps: 6,
        batch_size: 4,
        bn_group: 2,
        m: 4,
        cmap_dim: 8,
        head_kernel: 3,
        checkpoint_every: 3,
        g_optim: crate::config::OptimConfig {
            lr: 1e-3,
            ..crate::config::OptimConfig::generator_default()
        },
        d_optim: crate::config::OptimConfig {
            lr: 1e-3,
            ..crate::config::OptimConfig::discriminator_default()
        },
        ema_decay: 0.9,
        ..AdtConfig::default()
    }
}
