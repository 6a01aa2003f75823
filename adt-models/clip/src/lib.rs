//! CLIP text encoder and tokenizer for burn, weight- and id-exact to
//! transformers (`CLIPTextModel`, `CLIPTextModelWithProjection`, the slow
//! `CLIPTokenizer` with ftfy), as used by Stable Diffusion 1.x/2.x/SDXL.
//!
//! ```no_run
//! use adt_clip::{ClipTextModel, ClipTokenizer};
//! use adt_models_common::ModelSource;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let sd15 = ModelSource::parse("stable-diffusion-v1-5/stable-diffusion-v1-5");
//! let tokenizer = ClipTokenizer::from_pretrained(&sd15, "tokenizer")?;
//! let encoder = ClipTextModel::from_pretrained(&sd15, "text_encoder", &device)?;
//! let ids = tokenizer.encode_batch_tensor(&["a photo of a cat", ""], &device)?;
//! let cond = encoder.forward(ids).last_hidden_state; // [2, 77, 768]
//! # Ok::<(), adt_clip::ClipError>(())
//! ```

mod config;
mod error;
pub mod text_model;
pub mod tokenizer;

pub use config::{ClipTextConfig, HiddenAct};
pub use error::ClipError;
pub use text_model::{
    ClipTextModel, ClipTextOutput, IGNORED_KEYS, SD1_SINGLE_FILE_REMAP,
    SDXL_TEXT_ENCODER_SINGLE_FILE_REMAP, SINGLE_FILE_IGNORED_KEYS,
};
pub use tokenizer::{ClipTokenizer, ids_to_tensor};
