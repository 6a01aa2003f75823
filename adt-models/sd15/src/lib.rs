//! Stable Diffusion 1.5 (and 2.x) for burn and the ADT engine.
//!
//! - [`Sd15`] loads a checkpoint: a diffusers folder, a Hugging Face repo through the hf-hub
//!   cache (offline from a filled cache), or an original single file plus a config repo.
//! - [`Pipeline`] samples txt2img and img2img with classifier-free guidance and negative
//!   prompts, step for step as diffusers' pipelines, with any sampler of `adt-schedulers`.
//! - [`engine`] implements the ADT engine's seams: the trainable [`engine::UnetDenoiser`], the
//!   frozen [`engine::VaeCodec`] and [`engine::ClipConditioner`], and diffusers samplers as the
//!   engine's one-step [`engine::SchedulerSampler`].
//!
//! ```no_run
//! use adt_models_common::ModelSource;
//! use adt_schedulers::{SamplerName, Scheduler};
//! use adt_sd15::{Pipeline, Request, SeededNoise, Sd15};
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let sd = Sd15::from_pretrained(&ModelSource::parse("stable-diffusion-v1-5/stable-diffusion-v1-5"), &device)?;
//! let scheduler = Scheduler::new(&sd.scheduler.config(SamplerName::DDIM)?, 25)?;
//! let request = Request {
//!     prompts: vec!["a watercolor fox".into()],
//!     negative_prompts: vec!["blurry".into()],
//!     guidance_scale: 7.5,
//!     height: 512,
//!     width: 512,
//!     init: None,
//! };
//! let out = sd.pipeline().generate(&scheduler, &request, &mut SeededNoise::new(42, 1), &device)?;
//! # Ok::<(), adt_sd15::Sd15Error>(())
//! ```

pub mod engine;
mod error;
pub mod image_io;
mod model;
pub mod noise;
mod pipeline;

pub use error::{Result, Sd15Error};
pub use model::{SchedulerFile, Sd15};
pub use noise::{GivenNoise, NoiseSource, SeededNoise};
pub use pipeline::{Generated, InitImage, Pipeline, Request};

impl Sd15 {
    /// The sampling pipeline over this model's components.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            denoiser: &self.denoiser,
            codec: &self.codec,
            conditioner: &self.conditioner,
        }
    }
}
