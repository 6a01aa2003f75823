//! DINOv2 as the engine's frozen discriminator backbone ([`adt_plugin::traits::Backbone`]).

use adt_plugin::traits::{Backbone, BackboneFeatures as EngineFeatures, Tap};
use burn::prelude::*;

use adt_dinov2::{Dinov2Backbone, Dinov2Error};

/// The frozen feature network of ADT's siamese discriminator: a [`Dinov2Backbone`]
/// (resize + ImageNet normalisation inside, parameters frozen) read at fixed taps.
///
/// Taps are transformers hidden-state indices: 0 is the patch embedding, `i` the
/// output of block `i - 1`.
#[derive(Module, Debug)]
pub struct Dinov2Discriminator {
    pub backbone: Dinov2Backbone,
    #[module(skip)]
    taps: Vec<usize>,
}

impl Dinov2Discriminator {
    /// Read `backbone` at `taps`; each tap must name an existing hidden state.
    pub fn new(backbone: Dinov2Backbone, taps: Vec<usize>) -> Result<Self, Dinov2Error> {
        let layers = backbone.model.config().num_hidden_layers;
        if taps.is_empty() || taps.iter().any(|&t| t > layers) {
            return Err(Dinov2Error::Input(format!(
                "discriminator taps {taps:?}: each must be in 0..={layers} (hidden states of a \
                 {layers}-block model) and at least one is needed"
            )));
        }
        Ok(Self { backbone, taps })
    }

    /// The method's default taps (adt-method.md §5): the patch embedding plus blocks
    /// {2, 5, 8, 11} of a 12-block ViT-S, i.e. hidden states {0, 3, 6, 9, 12}; for other
    /// depths the same quarter points, `round(q·L/4)` for q = 1..4.
    pub fn default_taps(num_hidden_layers: usize) -> Vec<usize> {
        let l = num_hidden_layers as f64;
        let mut taps = vec![0];
        taps.extend((1..=4).map(|q| (q as f64 * l / 4.0).round() as usize));
        taps.dedup();
        taps
    }

    /// The hidden-state indices read.
    pub fn taps(&self) -> &[usize] {
        &self.taps
    }
}

impl Backbone for Dinov2Discriminator {
    fn tap_channels(&self) -> Vec<usize> {
        vec![self.backbone.hidden_size(); self.taps.len()]
    }

    fn embed_dim(&self) -> usize {
        self.backbone.hidden_size()
    }

    /// # Panics
    /// On a non-RGB batch: the engine's images are always `[B, 3, H, W]`, so this is a
    /// programming error, reported with DINOv2's own message.
    fn forward(&self, images: Tensor<4>) -> EngineFeatures {
        let f = self
            .backbone
            .features(images, &self.taps)
            .unwrap_or_else(|e| panic!("DINOv2 discriminator backbone: {e}"));
        EngineFeatures {
            taps: f
                .taps
                .into_iter()
                .map(|t| Tap {
                    tokens: t.patches,
                    cls: t.cls,
                })
                .collect(),
            cls: f.cls,
        }
    }
}
