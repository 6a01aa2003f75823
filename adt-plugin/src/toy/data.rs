//! "Coloured squares": a procedural image–prompt dataset (`"red small square"` …) for the toy runs.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;

use crate::model::AdtBatch;
use crate::rng::EngineRng;

const COLORS: [(&str, [f32; 3]); 4] = [
    ("red", [0.9, -0.8, -0.8]),
    ("green", [-0.8, 0.9, -0.8]),
    ("blue", [-0.8, -0.8, 0.9]),
    ("yellow", [0.9, 0.9, -0.8]),
];

/// One item: a `[3, S, S]` image in `[-1, 1]` (row-major) and its prompt.
#[derive(Clone, Debug)]
pub struct ToyItem {
    /// Pixels, channel-major.
    pub pixels: Vec<f32>,
    /// The prompt.
    pub prompt: String,
}

/// `len` images of side `size`, each a coloured square on a dark background; item `i` is a pure
/// function of (`seed`, `i`).
#[derive(Clone, Debug)]
pub struct ToyShapes {
    /// Number of items.
    pub len: usize,
    /// Image side.
    pub size: usize,
    /// Seed.
    pub seed: u64,
}

impl Dataset<ToyItem> for ToyShapes {
    fn get(&self, index: usize) -> Result<ToyItem, DatasetError> {
        assert!(
            index < self.len,
            "ToyShapes: index {index} out of range ({} items)",
            self.len
        );
        let mut rng = EngineRng::derived(self.seed, 1000 + index as u64);
        let s = self.size;
        let (cname, col) = COLORS[rng.int_inclusive(0, 3) as usize];
        let large = rng.int_inclusive(0, 1) == 1;
        let side = if large { s / 2 } else { s / 4 }.max(1);
        let y0 = rng.int_inclusive(0, (s - side) as i64) as usize;
        let x0 = rng.int_inclusive(0, (s - side) as i64) as usize;
        let mut pixels = vec![-0.6f32; 3 * s * s];
        for (c, v) in col.iter().enumerate() {
            for y in y0..y0 + side {
                for x in x0..x0 + side {
                    pixels[c * s * s + y * s + x] = *v;
                }
            }
        }
        for p in pixels.iter_mut() {
            *p += 0.05 * rng.normal() as f32;
        }
        let prompt = format!("{cname} {} square", if large { "large" } else { "small" });
        Ok(ToyItem { pixels, prompt })
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Stacks [`ToyItem`]s into an [`AdtBatch`].
#[derive(Clone, Debug)]
pub struct ToyBatcher {
    /// Image side.
    pub size: usize,
}

impl Batcher<ToyItem, AdtBatch> for ToyBatcher {
    fn batch(&self, items: Vec<ToyItem>, device: &Device) -> AdtBatch {
        let b = items.len();
        let s = self.size;
        let mut data = Vec::with_capacity(b * 3 * s * s);
        let mut prompts = Vec::with_capacity(b);
        for it in items {
            data.extend_from_slice(&it.pixels);
            prompts.push(it.prompt);
        }
        AdtBatch::new(
            Tensor::from_data(TensorData::new(data, [b, 3, s, s]), device),
            prompts,
        )
    }
}

/// A shuffled (seeded) loader over [`ToyShapes`] on `device`.
pub fn toy_loader(
    len: usize,
    size: usize,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Arc<dyn DataLoader<AdtBatch>> {
    DataLoaderBuilder::new(ToyBatcher { size })
        .batch_size(batch_size)
        .shuffle(seed)
        .set_device(device.clone())
        .build(ToyShapes { len, size, seed })
}
