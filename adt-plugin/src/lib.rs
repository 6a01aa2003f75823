//! adt-plugin — the Adversarial Diffusion Tuning engine for burn 0.22.
//!
//! The engine is generic over the seams in [`traits`] (denoiser, schedule/sampler, codec,
//! conditioner, backbone), bundled per run in [`Components`], and provides, on top of them:
//! - [`inference`]: simulated inference with the backward-flow constraint;
//! - [`discriminator`]: siamese heads on backbone taps (spectral norm, local batch norm);
//! - [`augment`]: DiffAugment with shared draws for each real/fake pair;
//! - [`losses`]: hinge, generator adversarial, R1, `L_diff` (ε / v / flow);
//! - [`step`]: one alternating D/G iteration ([`step::adt_step`]);
//! - [`strategy`] + [`trainer`]: the burn-train custom strategy and the [`AdtTrainer`] runner,
//!   with [`metrics`] (burn numeric metrics), [`events`] (`events.jsonl`), [`checkpoint`]
//!   (atomic step checkpoints, exact resume) and [`ema`];
//! - [`config`]: [`AdtConfig`], every knob with its default; [`lora`]: `[adt.lora]` adapters;
//! - [`precision`]: bf16 compute of the generator over f32 master weights;
//! - [`host`]: CPU settings for binaries (keep freed buffers, run inside rayon's pool);
//! - [`toy`]: tiny implementations of every seam for tests, benchmarks and examples.

pub mod augment;
pub mod checkpoint;
pub mod components;
pub mod config;
pub mod discriminator;
pub mod ema;
pub mod error;
pub mod eval;
pub mod events;
pub mod grads;
pub mod host;
pub mod inference;
pub mod lora;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod precision;
pub mod renderer;
pub mod rng;
pub mod shards;
pub mod step;
pub mod strategy;
pub mod toy;
pub mod trainer;
pub mod traits;

pub use components::{Components, Parts};
pub use config::{AdtConfig, LossWeighting, TimestepSampling};
pub use error::{AdtError, Result};
pub use model::{AdtBatch, AdtModel, FrozenContext};
pub use trainer::{AdtTrainer, RunReport};
