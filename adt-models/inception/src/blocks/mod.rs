//! The building blocks of pytorch-fid's InceptionV3, one file each. Field names
//! are upstream's (torchvision `inception.py`), so checkpoint keys below a block
//! load without renaming.

mod basic_conv;
mod inception_a;
mod inception_b;
mod inception_c;
mod inception_d;
mod inception_e;
mod pool;

pub use basic_conv::{BN_EPS, BasicConv2d, ConvSpec};
pub use inception_a::InceptionA;
pub use inception_b::InceptionB;
pub use inception_c::InceptionC;
pub use inception_d::InceptionD;
pub use inception_e::InceptionE;
pub use pool::{EPool, avg_3x3_same, max_3x3_same, max_3x3_stride2};
