//! DINOv2 ViT for burn — transformers (`facebook/dinov2-*`, with or without
//! registers) and original facebookresearch checkpoint layouts — and the frozen
//! feature network the discriminator's backbone is built on.
//!
//! - [`Dinov2Model`]: ViT-S/B/L/g, patch 14, layer scale, SwiGLU FFN (g), register
//!   tokens; built from [`Dinov2Config`], loaded with
//!   [`Dinov2Model::from_pretrained`] / [`Dinov2Model::from_original_variant`].
//!   Position-table interpolation follows the reference of the checkpoint's layout
//!   ([`PosInterpolation`]).
//! - [`Dinov2Backbone`]: resize + ImageNet normalisation inside, frozen parameters,
//!   differentiable w.r.t. the image; taps any hidden states.
//! - [`forward_harness`]: `pixel_values` → `last_hidden_state`, `pooler_output`,
//!   `hidden_states.N`.
//!
//! The engine's discriminator backbone built on it (`Dinov2Discriminator`) lives with the other
//! engine adapters in `adt-family`, so this crate stays free of the engine.

mod backbone;
mod config;
mod embeddings;
mod error;
mod harness;
mod layer;
mod loader;
mod model;
pub mod resample;

pub use backbone::{
    BackboneConfig, BackboneFeatures, Dinov2Backbone, IMAGENET_MEAN, IMAGENET_STD, TapFeatures,
};
pub use config::{
    Dinov2Config, HfDinov2Config, Layout, ORIGINAL_VARIANTS, OriginalVitConfig, PosInterpolation,
};
pub use embeddings::{Dinov2Embeddings, Dinov2PatchEmbeddings};
pub use error::Dinov2Error;
pub use harness::{forward_harness, forward_harness_on};
pub use layer::{
    Dinov2Attention, Dinov2Ffn, Dinov2Layer, Dinov2LayerScale, Dinov2Mlp, Dinov2SelfAttention,
    Dinov2SelfOutput, Dinov2SwiGluFfn,
};
pub use loader::{ORIGINAL_KEY_TABLE, TRANSFORMERS_REMAP, original_to_transformers};
pub use model::{Dinov2Encoder, Dinov2Model, Dinov2Output};
pub use resample::ResizeMode;
