//! `[adt] precision`: the generator computes in bf16 over f32 master weights.
//!
//! burn has no autocast (tracel-ai/burn#5696), so this is ours, written with `Tensor::cast`:
//! each step the generator's parameters are cast to bf16 *as a differentiable view* of the
//! f32 masters ([`compute_copy`]: `Param::map` keeps the id and the graph to the master), the
//! denoiser's inputs are cast on entry and its prediction back to f32 ([`Compute`]). Gradients
//! therefore reach the f32 master weights as f32 (the cast's backward), the optimizers' state
//! and the EMA stay f32, and everything after the prediction (sampler step, VAE decode,
//! backbone, losses) runs in f32. Timesteps and micro-conditioning ids stay f32 (bf16 rounds
//! 999 to 1000; diffusers' SDXL pipelines cast `add_time_ids` to bf16); the models cast their
//! f32 sinusoidal embeddings to their weights' dtype as diffusers does.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::DType;
use serde::{Deserialize, Serialize};

use crate::traits::{Conditioning, Denoiser, Prediction};

/// The generator's compute precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// The denoiser's forward and backward in bf16; master weights, gradients and optimizer
    /// state f32.
    Bf16,
}

impl Precision {
    /// The compute dtype, `None` for f32 (no cast at all, bit-identical to no wrapper).
    pub fn dtype(self) -> Option<DType> {
        match self {
            Self::F32 => None,
            Self::Bf16 => Some(DType::BF16),
        }
    }
}

struct Cast(DType);

impl ModuleMapper for Cast {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| t.cast(dtype))
    }
}

/// `module` with every float parameter cast to `dtype`, differentiably: the copy's
/// parameters keep their ids and their graph to the originals, so `backward` through the copy
/// gives the originals' gradients (in their own dtype). LoRA factors are cast alike.
pub fn compute_copy<M: Module>(module: &M, dtype: DType) -> M {
    module.clone().map(&mut Cast(dtype))
}

/// A denoiser run in `dtype`: inputs cast on entry, the prediction cast back to f32.
#[derive(Module, Debug)]
pub struct Compute<G: Denoiser> {
    /// The cast copy of the generator ([`compute_copy`]).
    pub inner: G,
    #[module(skip)]
    dtype: DType,
}

impl<G: Denoiser> Compute<G> {
    /// Wrap `generator`'s cast copy.
    pub fn new(generator: &G, dtype: DType) -> Self {
        Self {
            inner: compute_copy(generator, dtype),
            dtype,
        }
    }

    /// The same cast weights without a graph (`no_grad`: detached, storage shared), for the
    /// sampler steps that keep none.
    pub fn frozen(&self) -> Self {
        Self {
            inner: self.inner.clone().no_grad(),
            dtype: self.dtype,
        }
    }
}

impl<G: Denoiser> Denoiser for Compute<G> {
    fn prediction(&self) -> Prediction {
        self.inner.prediction()
    }

    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4> {
        let d = self.dtype;
        let cond = Conditioning {
            hidden: cond.hidden.clone().cast(d),
            pooled: cond.pooled.clone().map(|p| p.cast(d)),
            ids: cond.ids.clone(),
        };
        self.inner
            .forward(x_t.cast(d), timesteps, &cond)
            .cast(DType::F32)
    }
}
