//! The T5 v1.1 encoder for burn, weight- and id-exact to transformers'
//! `T5EncoderModel` and `T5TokenizerFast` (SD3's `text_encoder_3`).
//!
//! - [`T5EncoderModel`]: gated-GELU (tanh `gelu_new`) or ReLU feed-forward, RMS-style layer
//!   norm, relative position buckets computed in block 0 and shared by every block, no
//!   1/√d attention scale; optional attention mask; loads `shared.weight` or
//!   `encoder.embed_tokens.weight`, single or sharded files, f32/f16/bf16.
//! - [`T5Tokenizer`]: `tokenizer.json` through the `tokenizers` crate, padded and truncated
//!   to a fixed length, reporting which prompts were cut.

mod config;
mod error;
mod model;
mod tokenizer;

pub use config::{FeedForwardKind, T5Config};
pub use error::T5Error;
pub use model::{
    T5Attention, T5Block, T5DenseAct, T5EncoderModel, T5LayerFF, T5LayerNorm, T5LayerSelfAttention,
    T5Output, T5Stack, relative_position_bucket,
};
pub use tokenizer::{T5Tokenizer, T5Tokens};
