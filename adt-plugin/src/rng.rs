//! The engine's only randomness: one serializable ChaCha8 stream.
//!
//! Every draw (start index, K-step choice, noise, timesteps, augmentation, data order) comes from
//! [`EngineRng`], and noise tensors are built from host data ([`TensorData`]), so a run depends on
//! no backend RNG state and a checkpointed stream resumes bit-exactly.

use burn::prelude::*;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// A seeded, serializable random stream.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EngineRng {
    inner: ChaCha8Rng,
}

impl EngineRng {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A derived independent stream (`seed`, `stream`), e.g. one per purpose.
    pub fn derived(seed: u64, stream: u64) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream);
        Self { inner }
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.inner.random::<f64>()
    }

    /// Uniform integer in `lo..=hi`.
    pub fn int_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        self.inner.random_range(lo..=hi)
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.inner)
    }

    /// `k` distinct indices out of `0..n`, sorted.
    pub fn choose_sorted(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut v = sample(&mut self.inner, n, k.min(n)).into_vec();
        v.sort_unstable();
        v
    }

    /// A standard-normal tensor of `shape` built from host data.
    pub fn normal_tensor<const D: usize>(
        &mut self,
        shape: [usize; D],
        device: &Device,
    ) -> Tensor<D> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.normal() as f32).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// A permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.inner.random_range(0..=i);
            v.swap(i, j);
        }
        v
    }
}
