//! Where a generation's random draws come from: per-image seeds, or tensors given by the
//! caller (to replay another implementation's draws, e.g. diffusers' in the parity tests).

use std::collections::VecDeque;

use adt_plugin::rng::EngineRng;
use burn::prelude::*;

use crate::error::{FamilyError, Result};

/// A source of standard-normal tensors, drawn in the order the pipeline needs them: start
/// latents (txt2img) or the VAE posterior sample then the start noise (img2img), then one
/// tensor per stochastic sampler step.
pub trait NoiseSource {
    fn draw(&mut self, shape: [usize; 4], device: &Device) -> Result<Tensor<4>>;
}

/// One independent stream per image: image `k` of a batch uses seed `first + k`, so every
/// image can be reproduced alone with its own seed (and batch size does not change it).
#[derive(Debug, Clone)]
pub struct SeededNoise {
    streams: Vec<EngineRng>,
    seeds: Vec<u64>,
}

impl SeededNoise {
    pub fn new(first_seed: u64, images: usize) -> Self {
        let seeds: Vec<u64> = (0..images as u64)
            .map(|k| first_seed.wrapping_add(k))
            .collect();
        Self {
            streams: seeds.iter().map(|&s| EngineRng::new(s)).collect(),
            seeds,
        }
    }

    /// The seed of each image.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }
}

impl NoiseSource for SeededNoise {
    fn draw(&mut self, shape: [usize; 4], device: &Device) -> Result<Tensor<4>> {
        if shape[0] != self.streams.len() {
            return Err(FamilyError::Request(format!(
                "noise for a batch of {} drawn from {} seeded streams",
                shape[0],
                self.streams.len()
            )));
        }
        let rows = self
            .streams
            .iter_mut()
            .map(|rng| rng.normal_tensor([1, shape[1], shape[2], shape[3]], device))
            .collect();
        Ok(Tensor::cat(rows, 0))
    }
}

/// Tensors given in advance, handed out in order; a missing or mis-shaped one is an error.
#[derive(Debug, Default)]
pub struct GivenNoise {
    queue: VecDeque<Tensor<4>>,
}

impl GivenNoise {
    pub fn new(tensors: impl IntoIterator<Item = Tensor<4>>) -> Self {
        Self {
            queue: tensors.into_iter().collect(),
        }
    }
}

impl NoiseSource for GivenNoise {
    fn draw(&mut self, shape: [usize; 4], _device: &Device) -> Result<Tensor<4>> {
        let t = self.queue.pop_front().ok_or_else(|| {
            FamilyError::Request(format!("no given noise left for a draw of shape {shape:?}"))
        })?;
        if t.dims() != shape {
            return Err(FamilyError::Request(format!(
                "given noise has shape {:?}, the pipeline needs {shape:?}",
                t.dims()
            )));
        }
        Ok(t)
    }
}

/// Given tensors first, then `rest` for every later draw (e.g. given start latents, and
/// seeded streams for a stochastic sampler's per-step noise).
#[derive(Debug)]
pub struct GivenFirst<R> {
    pub given: GivenNoise,
    pub rest: R,
}

impl<R: NoiseSource> NoiseSource for GivenFirst<R> {
    fn draw(&mut self, shape: [usize; 4], device: &Device) -> Result<Tensor<4>> {
        if self.given.queue.is_empty() {
            self.rest.draw(shape, device)
        } else {
            self.given.draw(shape, device)
        }
    }
}
