//! Loading machinery shared by the adt model zoo, and the one attention op every model
//! calls ([`attention::scaled_dot_product`]).
//!
//! Every model crate resolves its files through [`ModelSource`] (a local
//! diffusers/transformers folder or the Hugging Face cache/hub), reads its typed
//! config with [`read_config`], and loads weights with [`load_safetensors`]:
//! strict by default, so a missing, unused or mis-shaped key is an error naming
//! the file and the key instead of a silently half-initialised model.

pub mod attention;
mod config;
pub mod convert;
mod error;
pub mod single_file;
mod source;
pub mod tensor_io;
pub mod testing;
mod weights;

pub use config::read_config;
pub use error::LoadError;
pub use source::ModelSource;
pub use weights::{
    LoadOptions, load_safetensors, load_safetensors_with, load_tensor_map, remap_key,
    save_safetensors,
};
