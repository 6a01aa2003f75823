//! Stable Diffusion XL as an adt model family.
//!
//! [`Sdxl`] implements [`adt_family::Family`]: the UNet (with SDXL's `text_time` added
//! conditions), the VAE (its own `scaling_factor`, 0.13025 for SDXL) and two text encoders
//! ([`SdxlConditioner`]: CLIP ViT-L and OpenCLIP ViT-bigG, penultimate hidden states
//! concatenated, the second's projected pooled output, size/crop micro-conditioning,
//! `force_zeros_for_empty_prompt`, the refiner's aesthetic score) — from a diffusers folder
//! (full precision or the `fp16` variant), a Hugging Face repo through the hf-hub cache, or the
//! original SGM single file ([`single_file`]) plus a config repo. Sampling is
//! `adt_family::Pipeline` (exact to diffusers' `StableDiffusionXLPipeline` /
//! `StableDiffusionXLImg2ImgPipeline`); tuning is `adt_family::Tuning<Sdxl>`.

mod conditioner;
mod model;
pub mod single_file;

pub use conditioner::{NEGATIVE_AESTHETIC_SCORE, SdxlConditioner, SdxlOptions, time_ids};
pub use model::{Sdxl, SdxlModel};
