//! SD1.5 behind the ADT engine's seams (`adt_plugin::traits`): a trainable [`UnetDenoiser`],
//! a frozen [`VaeCodec`] and [`ClipConditioner`], a diffusers [`SchedulerSampler`] and the
//! training [`AlphaSchedule`].

mod codec;
mod conditioner;
mod denoiser;
mod sampler;

pub use codec::VaeCodec;
pub use conditioner::ClipConditioner;
pub use denoiser::UnetDenoiser;
pub use sampler::{AlphaSchedule, SchedulerSampler, engine_prediction};
