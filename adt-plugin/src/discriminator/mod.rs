//! The siamese discriminator: a frozen [`Backbone`](crate::traits::Backbone) (held by the engine,
//! not here) plus these trainable heads. The same heads score the generated image and its paired
//! real image; the score of each token is its head output projected on an embedding of the
//! *paired real image* (its final CLS through a linear map), or — alternative — the scaled cosine
//! similarity with that embedding.
//!
//! Optional text conditioning ([`crate::config::AdtConfig::text_cond`]): the embedding becomes
//! `W_img·cls_real + b + W_txt·pooled_prompt`, a linear map of the concatenated image and prompt
//! embeddings (ADD conditions its heads on both; the prompt term guards against drifting away
//! from the caption).
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
    /// Text term of the projection embedding `[P, D]` (P: the prompt's pooled width), when the
    /// heads are text-conditioned.
    pub text_weight: Option<Param<Tensor<2>>>,
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
    /// Heads for taps of `tap_channels`, a CLS of width `embed_dim`, projection width `cmap_dim`;
    /// `text_dim = Some(P)` adds the text term for pooled prompt embeddings of width P.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tap_channels: &[usize],
        embed_dim: usize,
        text_dim: Option<usize>,
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
        let cmap_weight = Param::from_tensor(
            rng.normal_tensor([embed_dim, cmap_dim], device)
                .mul_scalar(std),
        );
        // Drawn after everything else, so heads without text initialise exactly as before.
        let text_weight = text_dim.map(|p| {
            Param::from_tensor(
                rng.normal_tensor([p, cmap_dim], device)
                    .mul_scalar((1.0 / p as f64).sqrt()),
            )
        });
        Self {
            heads,
            cmap_weight,
            cmap_bias: Param::from_tensor(Tensor::zeros([cmap_dim], device)),
            text_weight,
            settings,
        }
    }

    /// The projection embedding `[B, D]` of the real images' CLS `[B, E]` and, for
    /// text-conditioned heads, the prompts' pooled embeddings `[B, P]`.
    ///
    /// Panics when the heads are text-conditioned and `text` is `None` (the engine checks at
    /// construction that the conditioner provides a pooled embedding).
    pub fn embed(&self, real_cls: Tensor<2>, text: Option<Tensor<2>>) -> Tensor<2> {
        let e = real_cls.matmul(self.cmap_weight.val()) + self.cmap_bias.val().unsqueeze::<2>();
        match &self.text_weight {
            Some(w) => {
                let text = text.expect("text-conditioned heads need the prompts' pooled embedding");
                e + text.matmul(w.val())
            }
            None => e,
        }
    }

    /// Whether the heads are conditioned on the prompt.
    pub fn is_text_conditioned(&self) -> bool {
        self.text_weight.is_some()
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

    /// Logits from backbone features of the scored images, the real images' CLS and (for
    /// text-conditioned heads) the prompts' pooled embeddings.
    pub fn forward(
        &self,
        features: &BackboneFeatures,
        real_cls: Tensor<2>,
        text: Option<Tensor<2>>,
    ) -> Tensor<2> {
        self.score(&head_inputs(features), self.embed(real_cls, text))
    }

    /// Advance all spectral-norm power iterations (call after each D update).
    pub fn refreshed(self) -> Self {
        Self {
            heads: self.heads.into_iter().map(DiscHead::refreshed).collect(),
            ..self
        }
    }
}
