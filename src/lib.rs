//! **adt** — Adversarial Diffusion Tuning for the burn ecosystem.
//!
//! This facade re-exports the workspace crates so a burn project can depend on
//! one package:
//! - [`plugin`]: the ADT engine (simulated inference with the backward-flow
//!   constraint, siamese discriminator, losses, the burn-train strategy);
//! - [`models`]: the model zoo (UNet2DCondition, SD3's MMDiT, AutoencoderKL, CLIP text, T5,
//!   schedulers, the family seam and pipeline, the SD1.5, SDXL and SD3 families, DINOv2,
//!   InceptionV3 for FID);
//! - [`family`]: the families the CLI knows and the one place a family is picked;
//! - [`tui`]: the terminal dashboard.

pub use adt_data as data;
pub use adt_plugin as plugin;

pub mod assets;
pub mod device;
pub mod eval;
pub mod family;
pub mod quickstart;
pub mod train;
pub use adt_tui as tui;

/// The model zoo.
pub mod models {
    pub use adt_clip as clip;
    pub use adt_diffusion as diffusion;
    pub use adt_dinov2 as dinov2;
    pub use adt_family as family;
    pub use adt_inception as inception;
    pub use adt_models_common as common;
    pub use adt_schedulers as schedulers;
    pub use adt_sd3 as sd3;
    pub use adt_sd15 as sd15;
    pub use adt_sdxl as sdxl;
    pub use adt_t5 as t5;
}
