//! adt-family — the seam every model family of adt is built on.
//!
//! - [`Family`]: a family's component types (denoiser, codec, conditioner) in one trait with
//!   associated types, its diffusers pipeline classes and its loading; [`Model`] is a loaded
//!   checkpoint of a family and [`Tuning`] the family as the ADT engine's
//!   [`adt_plugin::Components`].
//! - [`adapters`]: the diffusers-style components behind the engine's seams, shared by every
//!   family — [`adapters::UnetDenoiser`], [`adapters::VaeCodec`],
//!   [`adapters::SchedulerSampler`] (diffusers samplers one step at a time),
//!   [`adapters::AlphaSchedule`], [`adapters::Dinov2Discriminator`].
//! - [`Pipeline`]: txt2img and img2img with classifier-free guidance, negative prompts,
//!   micro-conditioning, per-image seeds or given noise ([`noise`]), for any family.
//! - [`lora`]: LoRA files of a denoiser (diffusers/PEFT and kohya layouts), written from the
//!   engine's adapters and merged for sampling.
//! - [`image_io`]: PNG output with diffusers' rounding, init images, contact sheets.
//!
//! Model crates (`adt-diffusion`, `adt-clip`, `adt-dinov2`, `adt-schedulers`) stay free of the
//! engine; this crate and the family crates (`adt-sd15`, `adt-sdxl`) are where they meet it.

pub mod adapters;
mod error;
mod family;
pub mod image_io;
pub mod lora;
pub mod noise;
mod pipeline;

pub use error::{FamilyError, Result};
pub use family::{Family, Model, ModelIndex, SchedulerFile, Tuning};
pub use noise::{GivenFirst, GivenNoise, NoiseSource, SeededNoise};
pub use pipeline::{Generated, InitImage, Pipeline, Request};
