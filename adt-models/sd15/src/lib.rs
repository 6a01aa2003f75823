//! Stable Diffusion 1.5 (and 2.x) as an adt model family.
//!
//! [`Sd15`] implements [`adt_family::Family`]: the UNet, the VAE and one CLIP text encoder
//! ([`ClipConditioner`]) from a diffusers folder, a Hugging Face repo through the hf-hub cache
//! (offline from a filled cache), or an original single file plus a config repo. Sampling is
//! `adt_family::Pipeline` (exact to diffusers' `StableDiffusionPipeline` /
//! `StableDiffusionImg2ImgPipeline`); tuning is `adt_family::Tuning<Sd15>`.
//!
//! ```no_run
//! use adt_family::{Request, SeededNoise};
//! use adt_models_common::ModelSource;
//! use adt_schedulers::{SamplerName, Scheduler};
//! use adt_sd15::Sd15Model;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let sd = Sd15Model::from_pretrained(&ModelSource::parse("stable-diffusion-v1-5/stable-diffusion-v1-5"), &device)?;
//! let scheduler = Scheduler::new(&sd.scheduler.config(SamplerName::DDIM)?, 25)?;
//! let request = Request {
//!     negative_prompts: Some(vec!["blurry".into()]),
//!     ..Request::txt2img(vec!["a watercolor fox".into()], 7.5, 512, 512)
//! };
//! let out = sd.pipeline().generate(&scheduler, &request, &mut SeededNoise::new(42, 1), &device)?;
//! # Ok::<(), adt_family::FamilyError>(())
//! ```

mod conditioner;
mod model;

pub use conditioner::ClipConditioner;
pub use model::{Sd15, Sd15Model};
