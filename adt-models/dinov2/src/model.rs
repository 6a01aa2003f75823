//! The DINOv2 ViT (transformers `Dinov2Model` / `Dinov2WithRegistersModel`).

use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;

use crate::Dinov2Error;
use crate::config::Dinov2Config;
use crate::embeddings::Dinov2Embeddings;
use crate::layer::Dinov2Layer;

/// `encoder`: the stack of blocks.
#[derive(Module, Debug)]
pub struct Dinov2Encoder {
    pub layer: Vec<Dinov2Layer>,
}

/// DINOv2 ViT. Module paths equal transformers' parameter names, so a
/// transformers checkpoint loads with no remap beyond the FFN variant name.
#[derive(Module, Debug)]
pub struct Dinov2Model {
    pub embeddings: Dinov2Embeddings,
    pub encoder: Dinov2Encoder,
    pub layernorm: LayerNorm,
    #[module(skip)]
    config: Dinov2Config,
}

/// What [`Dinov2Model::forward_features`] returns.
#[derive(Debug, Clone)]
pub struct Dinov2Output {
    /// Final-normed tokens `[B, 1 + R + N, D]`: CLS, `R` registers, `N` patches
    /// (row-major over the patch grid).
    pub last_hidden_state: Tensor<3>,
    /// Final-normed CLS token `[B, D]` (transformers' `pooler_output`).
    pub pooler_output: Tensor<2>,
    /// The requested taps, in request order: un-normed token maps `[B, 1 + R + N, D]`
    /// (transformers' `hidden_states[i]`).
    pub taps: Vec<Tensor<3>>,
    /// Patch grid `(rows, cols)`.
    pub grid: [usize; 2],
    /// Tokens before the patches (1 + registers).
    pub num_prefix_tokens: usize,
}

impl Dinov2Output {
    /// Final-normed patch tokens `[B, N, D]`.
    pub fn patch_tokens(&self) -> Tensor<3> {
        let [b, l, d] = self.last_hidden_state.dims();
        self.last_hidden_state
            .clone()
            .slice([0..b, self.num_prefix_tokens..l, 0..d])
    }
}

impl Dinov2Model {
    /// A model with the architecture of `config` (weights initialised, not trained).
    pub fn new(config: &Dinov2Config, device: &Device) -> Self {
        Self {
            embeddings: Dinov2Embeddings::new(config, device),
            encoder: Dinov2Encoder {
                layer: (0..config.num_hidden_layers)
                    .map(|_| Dinov2Layer::new(config, device))
                    .collect(),
            },
            layernorm: LayerNormConfig::new(config.hidden_size)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &Dinov2Config {
        &self.config
    }

    /// Run the model on `pixel_values` `[B, C, H, W]` (already ImageNet-normalised),
    /// returning the final-normed tokens and the un-normed token maps at `taps`.
    ///
    /// A tap index is a transformers `hidden_states` index: `0` is the embedding
    /// output (patch embedding + positions, with CLS/registers), `i ≥ 1` the output of
    /// block `i - 1` (0-based), up to `num_hidden_layers`. Differentiable w.r.t.
    /// `pixel_values`.
    pub fn forward_features(
        &self,
        pixel_values: Tensor<4>,
        taps: &[usize],
    ) -> Result<Dinov2Output, Dinov2Error> {
        let n = self.config.num_hidden_layers;
        if let Some(bad) = taps.iter().find(|&&t| t > n) {
            return Err(Dinov2Error::Input(format!(
                "tap {bad} is out of range: hidden-state indices go from 0 (embeddings) to {n} (last block)"
            )));
        }
        let [_, c, h, w] = pixel_values.dims();
        let grid = self.embeddings.patch_grid(c, h, w)?;
        let mut x = self.embeddings.forward(pixel_values)?;
        let mut tapped: Vec<Option<Tensor<3>>> = vec![None; taps.len()];
        let mut record = |i: usize, x: &Tensor<3>| {
            for (slot, &t) in tapped.iter_mut().zip(taps) {
                if t == i {
                    *slot = Some(x.clone());
                }
            }
        };
        record(0, &x);
        // Stop after the last block anyone needs only when the final tokens are
        // not needed either — they always are, so run every block.
        for (i, layer) in self.encoder.layer.iter().enumerate() {
            x = layer.forward(x);
            record(i + 1, &x);
        }
        let last_hidden_state = self.layernorm.forward(x);
        let [b, _, d] = last_hidden_state.dims();
        let pooler_output = last_hidden_state
            .clone()
            .slice([0..b, 0..1, 0..d])
            .reshape([b, d]);
        Ok(Dinov2Output {
            last_hidden_state,
            pooler_output,
            taps: tapped
                .into_iter()
                .map(|t| t.expect("every tap recorded"))
                .collect(),
            grid,
            num_prefix_tokens: self.config.num_prefix_tokens(),
        })
    }

    /// [`forward_features`](Self::forward_features) tapping every hidden state
    /// (`taps[i]` = transformers `hidden_states[i]`).
    pub fn forward_all_hidden_states(
        &self,
        pixel_values: Tensor<4>,
    ) -> Result<Dinov2Output, Dinov2Error> {
        let all: Vec<usize> = (0..=self.config.num_hidden_layers).collect();
        self.forward_features(pixel_values, &all)
    }
}
