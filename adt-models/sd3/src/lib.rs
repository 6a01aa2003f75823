//! Stable Diffusion 3 / 3.5 as an adt model family.
//!
//! [`Sd3`] implements [`adt_family::Family`]: the MMDiT (`SD3Transformer2DModel`, SD3.5's QK
//! norm and MMDiT-X dual attention) predicting flow velocities, the 16-channel VAE with its
//! `shift_factor`, and three text encoders ([`Sd3Conditioner`]: CLIP ViT-L and OpenCLIP
//! ViT-bigG penultimate states zero-padded to the T5 width and joined to T5 v1.1's sequence,
//! both projections pooled; zeros where a pipeline has no `text_encoder_3`) — from a diffusers
//! folder, a Hugging Face repo through the hf-hub cache, or a Stability single file
//! ([`single_file`], with or without the bundled encoders). Sampling is
//! `adt_family::Pipeline` (exact to diffusers' `StableDiffusion3Pipeline` /
//! `StableDiffusion3Img2ImgPipeline` on `FlowMatchEulerDiscreteScheduler`); tuning is
//! `adt_family::Tuning<Sd3>` with the flow-matching `L_diff`.

mod conditioner;
mod model;
pub mod single_file;

pub use conditioner::{DEFAULT_MAX_SEQUENCE_LENGTH, Sd3Conditioner};
pub use model::{Sd3, Sd3Model};
