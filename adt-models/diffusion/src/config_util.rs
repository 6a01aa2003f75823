//! Small serde helpers shared by the UNet and VAE configs.

use serde::{Deserialize, Serialize};

/// A diffusers config value that is either one value for every block or one per block
/// (e.g. `attention_head_dim: 8` vs `[5, 10, 20]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerBlock<T> {
    /// The same value for every block.
    One(T),
    /// One value per down block (in down-block order).
    Many(Vec<T>),
}

impl<T: Clone> PerBlock<T> {
    /// Expand to exactly `n` values; `None` when a list has the wrong length.
    pub fn expand(&self, n: usize) -> Option<Vec<T>> {
        match self {
            PerBlock::One(v) => Some(vec![v.clone(); n]),
            PerBlock::Many(v) if v.len() == n => Some(v.clone()),
            PerBlock::Many(_) => None,
        }
    }
}

/// `sample_size` is an int (square) or `[height, width]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SampleSize {
    /// Square side.
    Square(usize),
    /// `[height, width]`.
    Rect(Vec<usize>),
}
