//! The siamese discriminator: a frozen [`Backbone`](crate::traits::Backbone) (held by the engine,
//! not here) plus these trainable heads. The same heads score the generated image and its paired
//! real image; the score of each token is its head output projected on an embedding of the
//! *paired real image* (its final CLS through a linear map), or — alternative — the scaled cosine
//! similarity with that embedding.
//!
//! Why the cosine score compares with the real *embedding* and not with the real image's head
//! output: `cos(h(real), h(real)) = 1` would make D(real) a constant that D cannot learn from.

pub mod batch_norm;
pub mod heads;
pub mod spectral_norm;

use burn::module::Param;
use burn::prelude::*;

use crate::config::ScoreKind;
use crate::rng::EngineRng;
use crate::traits::BackboneFeatures;
pub use heads::DiscHead;

/// Settings that shape the scoring (not parameters).
#[derive(Clone, Debug)]
pub struct DiscSettings {
    /// Projection or cosine.
    pub score: ScoreKind,
    /// Cosine scale.
    pub cosine_scale: f32,
}

/// The trainable part of the discriminator.
#[derive(Module, Debug)]
pub struct Discriminator {
    /// One head per backbone tap.
    pub heads: Vec<DiscHead>,
    /// Projection embedding of the real image's CLS: weight `[E, D]`.
    pub cmap_weight: Param<Tensor<2>>,
    /// Projection embedding bias `[D]`.
    pub cmap_bias: Param<Tensor<1>>,
    /// Scoring settings.
    #[module(skip)]
    pub settings: DiscSettings,
}

/// Heads' inputs from backbone features: each tap's patch tokens plus its CLS token, `[B, N, C]`.
pub fn head_inputs(features: &BackboneFeatures) -> Vec<Tensor<3>> {
    features
        .taps
        .iter()
        .map(|t| t.tokens.clone() + t.cls.clone().unsqueeze_dim::<3>(1))
        .collect()
}

impl Discriminator {
    /// Heads for taps of `tap_channels`, a CLS of width `embed_dim`, projection width `cmap_dim`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tap_channels: &[usize],
        embed_dim: usize,
        cmap_dim: usize,
        kernel: usize,
        bn_group: usize,
        settings: DiscSettings,
        rng: &mut EngineRng,
        device: &Device,
    ) -> Self {
        let heads = tap_channels
            .iter()
            .map(|&c| DiscHead::new(c, cmap_dim, kernel, bn_group, rng, device))
            .collect();
        let std = (1.0 / embed_dim as f64).sqrt();
        Self {
            heads,
            cmap_weight: Param::from_tensor(
                rng.normal_tensor([embed_dim, cmap_dim], device)
                    .mul_scalar(std),
            ),
            cmap_bias: Param::from_tensor(Tensor::zeros([cmap_dim], device)),
            settings,
        }
    }

    /// The projection embedding `[B, D]` of the real images' CLS `[B, E]`.
    pub fn embed(&self, real_cls: Tensor<2>) -> Tensor<2> {
        real_cls.matmul(self.cmap_weight.val()) + self.cmap_bias.val().unsqueeze::<2>()
    }

    /// Logits `[B, T]` (T = tokens over all heads) for head inputs given the real embedding.
    pub fn score(&self, inputs: &[Tensor<3>], embedding: Tensor<2>) -> Tensor<2> {
        assert_eq!(
            inputs.len(),
            self.heads.len(),
            "Discriminator: {} taps for {} heads",
            inputs.len(),
            self.heads.len()
        );
        let [b, d] = embedding.dims();
        let e3 = embedding.unsqueeze_dim::<3>(2); // [B, D, 1]
        let logits = self
            .heads
            .iter()
            .zip(inputs)
            .map(|(head, x)| {
                let h = head.forward(x.clone()); // [B, D, N]
                let n = h.dims()[2];
                let s = match self.settings.score {
                    ScoreKind::Projection => {
                        (h * e3.clone()).sum_dim(1).div_scalar((d as f64).sqrt())
                    }
                    ScoreKind::Cosine => {
                        let hn = h.clone().powi_scalar(2).sum_dim(1).sqrt().add_scalar(1e-8);
                        let en = e3.clone().powi_scalar(2).sum_dim(1).sqrt().add_scalar(1e-8);
                        ((h * e3.clone()).sum_dim(1) / (hn * en))
                            .mul_scalar(self.settings.cosine_scale)
                    }
                };
                s.reshape([b, n])
            })
            .collect();
        Tensor::cat(logits, 1)
    }

    /// Logits from backbone features of the scored images and the real images' CLS.
    pub fn forward(&self, features: &BackboneFeatures, real_cls: Tensor<2>) -> Tensor<2> {
        self.score(&head_inputs(features), self.embed(real_cls))
    }

    /// Advance all spectral-norm power iterations (call after each D update).
    pub fn refreshed(self) -> Self {
        Self {
            heads: self.heads.into_iter().map(DiscHead::refreshed).collect(),
            ..self
        }
    }
}
