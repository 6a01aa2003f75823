//! The trainable side: [`UNet2DConditionModel`] as the engine's [`Denoiser`].

use adt_diffusion::{AddedCond, UNet2DConditionModel};
use adt_plugin::traits::{Conditioning, Denoiser, Prediction};
use burn::prelude::*;

/// The SD UNet with the prediction type of its scheduler (`epsilon` for SD1.5).
#[derive(Module, Debug)]
pub struct UnetDenoiser {
    /// The network θ the engine tunes.
    pub unet: UNet2DConditionModel,
    /// What it predicts, from `scheduler_config.json`'s `prediction_type`.
    #[module(skip)]
    pub prediction: Prediction,
}

impl UnetDenoiser {
    pub fn new(unet: UNet2DConditionModel, prediction: Prediction) -> Self {
        Self { unet, prediction }
    }
}

impl Denoiser for UnetDenoiser {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn forward(&self, x_t: Tensor<4>, timesteps: Tensor<1>, cond: &Conditioning) -> Tensor<4> {
        // SDXL-style checkpoints take the pooled text embedding and micro-conditioning ids.
        let added = match (&cond.pooled, &cond.ids) {
            (Some(text_embeds), Some(time_ids))
                if self.unet.config().addition_embed_type.is_some() =>
            {
                Some(AddedCond {
                    text_embeds: text_embeds.clone(),
                    time_ids: time_ids.clone(),
                })
            }
            _ => None,
        };
        self.unet
            .forward(x_t, timesteps, cond.hidden.clone(), added)
    }
}
