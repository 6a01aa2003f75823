//! pytorch-fid's InceptionV3 for burn: the network behind FID, giving the 2048-d
//! pool3 features of `pytorch_fid.inception.InceptionV3` (block 3,
//! `resize_input=True`, `normalize_input=True`, `use_fid_inception=True`;
//! github.com/mseitzer/pytorch-fid, `src/pytorch_fid/inception.py`, 0.3.0).
//!
//! - [`InceptionV3Fid`]: `features([B, 3, H, W] in [-1, 1]) -> [B, 2048]`; resizes to
//!   299 × 299 itself (bilinear, `align_corners=False`). `[-1, 1]` is the project's
//!   image convention and equals pytorch-fid's `2x − 1` of a `[0, 1]` image.
//! - [`InceptionV3Fid::from_pth`] reads the weights users download for pytorch-fid,
//!   `pt_inception-2015-12-05-6726825d.pth` ([`FID_WEIGHTS_FILE`]), with burn-store's
//!   `PytorchStore` (zip, legacy and tar `torch.save` containers);
//!   [`InceptionV3Fid::from_safetensors`] the same state dict as safetensors. Keys
//!   are upstream's, through the two-rule [`KEY_REMAP`]; loading is strict and
//!   errors name the file and the key ([`InceptionError`]).
//! - [`blocks`]: `BasicConv2d` and Inception A–E, one file each; the difference of
//!   the FID variant from torchvision's network (average pools that exclude
//!   padding, a max pool in the last block) is explicit ([`blocks::EPool`]).
//!
//! # Written by hand, not taken from burn-train
//!
//! burn-train 0.22.1 has an InceptionV3 FID extractor
//! (`burn_train::metric::vision::fid`, its `inception.rs` + `weights.rs`) and it was
//! read while writing this crate (the block structure follows it). It is not reused
//! because (1) it sits behind burn-train's `vision` feature, which pulls in
//! reqwest/tokio/rustls and downloads the weights from GitHub itself, while this
//! project runs offline on user-supplied files; (2) its metric ImageNet-normalises
//! inputs by default where pytorch-fid maps `[0, 1]` to `[-1, 1]`; (3) its resize
//! keeps burn's default `align_corners = true` (pytorch-fid: `False`) and skips
//! resizing only at exactly 299; (4) it loads with `allow_partial(true)` and only
//! logs a warning, so a wrong file gives a silently random network. Here loading is
//! strict, the input convention is the project's, and parity with pytorch-fid
//! itself is tested (`tests/parity.rs`).
//!
//! # Parity
//!
//! The real weights (~95 MB) cannot be committed: `scripts/fixtures/inception.py`
//! fills every tensor of pytorch-fid's network from an integer formula that
//! `tests/common` reproduces bit for bit, runs pytorch-fid on fixed images and
//! commits only the features; the Rust test writes the formula weights under
//! pytorch-fid's key names and loads them through the real loader.

pub mod blocks;
mod error;
mod loader;
mod model;

pub use error::InceptionError;
pub use loader::{EXPECTED_EXTRAS, KEY_REMAP, checkpoint_key};
pub use model::{
    FID_FEATURE_DIM, FID_INPUT_SIZE, FID_WEIGHTS_FILE, FidBlocks, InceptionV3Fid, resize_to_fid,
};
