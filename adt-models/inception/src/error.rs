//! Errors of the InceptionV3 port: loading problems and bad inputs.

use std::path::PathBuf;

use adt_models_common::LoadError;

/// Why the FID network could not be loaded or run. Loading errors name the
/// file, and the checkpoint key where there is one.
#[derive(Debug, thiserror::Error)]
pub enum InceptionError {
    /// Missing file, missing or unexpected checkpoint keys (named in
    /// pytorch-fid's spelling), a wrong tensor shape, a corrupt safetensors file.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The `.pth` could not be read as a PyTorch checkpoint.
    #[error(
        "{path}: cannot read as a PyTorch checkpoint: {message} (burn-store reads torch.save \
         files in the zip (torch >= 1.6), legacy (0.1.10-1.5) and tar containers; re-save with \
         `torch.save(torch.load(p, map_location='cpu'), out)`, or convert with \
         `safetensors.torch.save_file(torch.load(p), out.safetensors)`)"
    )]
    Pth { path: PathBuf, message: String },
    /// A weight stored in another float type than f32 in a `.pth` (safetensors
    /// files are upcast; the PyTorch reader keeps the file's dtype).
    #[error(
        "{path}: tensor `{key}` is {dtype}; pytorch-fid's weights are float32 — re-save with \
         `torch.save({{k: v.float() for k, v in sd.items()}}, out)` or use a .safetensors file"
    )]
    DType {
        path: PathBuf,
        key: String,
        dtype: String,
    },
    /// The input tensor cannot be fed to the network.
    #[error("invalid InceptionV3 input: {0}")]
    Input(String),
}
