//! Diffusers-style components behind the ADT engine's seams (`adt_plugin::traits`), shared by
//! every family: the trainable [`UnetDenoiser`] and [`MmditDenoiser`], the frozen
//! [`VaeCodec`], diffusers samplers as the engine's one-step [`SchedulerSampler`], the
//! checkpoint's training noise levels ([`AlphaSchedule`], [`FlowSchedule`]), and DINOv2 as
//! the discriminator's frozen [`Dinov2Discriminator`].
//! A family crate adds its conditioner and its loading on top.

mod backbone;
mod codec;
mod denoiser;
mod mmdit;
mod sampler;

pub use backbone::Dinov2Discriminator;
pub use codec::{LatentCodec, VaeCodec};
pub use denoiser::{ComponentDenoiser, UnetDenoiser};
pub use mmdit::MmditDenoiser;
pub use sampler::{
    AlphaSchedule, FlowSchedule, SchedulerSampler, engine_prediction, training_schedule,
};
