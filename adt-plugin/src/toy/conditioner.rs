//! A hashed-word prompt encoder: each of the first `L` words picks a row of a frozen table.

use burn::module::Param;
use burn::prelude::*;

use crate::rng::EngineRng;
use crate::traits::{Conditioner, TextEmbedding};

/// Prompt → `[B, L, C]` rows of a table (row 0 = padding/empty); pooled = mean over words.
#[derive(Module, Debug)]
pub struct ToyConditioner {
    /// Embedding table `[V, C]`.
    pub table: Param<Tensor<2>>,
    /// Tokens per prompt.
    #[module(skip)]
    pub max_words: usize,
}

impl ToyConditioner {
    /// A table of `vocab` rows of width `dim`, `max_words` tokens per prompt.
    pub fn new(
        vocab: usize,
        dim: usize,
        max_words: usize,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        Self {
            table: Param::from_tensor(rng.normal_tensor([vocab, dim], device)),
            max_words,
        }
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.table.dims()[1]
    }

    fn token(&self, word: &str) -> usize {
        let v = self.table.dims()[0];
        // FNV-1a: stable across platforms and runs.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in word.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        1 + (h % (v as u64 - 1)) as usize
    }
}

impl Conditioner for ToyConditioner {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        let l = self.max_words;
        let ids: Vec<i64> = prompts
            .iter()
            .flat_map(|p| {
                let mut t: Vec<i64> = p
                    .split_whitespace()
                    .take(l)
                    .map(|w| self.token(w) as i64)
                    .collect();
                t.resize(l, 0);
                t
            })
            .collect();
        let b = prompts.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * l]), device);
        let table = self.table.val();
        let d = table.dims()[1];
        let hidden = table.select(0, idx).reshape([b, l, d]);
        let pooled = hidden.clone().mean_dim(1).reshape([b, d]);
        TextEmbedding {
            hidden,
            pooled: Some(pooled),
        }
    }
}
