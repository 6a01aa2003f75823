//! `SD3Transformer2DModel` (diffusers `transformer_sd3.py`): the MMDiT denoiser of Stable
//! Diffusion 3 / 3.5, built from its `config.json`, training-shaped (per-sample timesteps,
//! differentiable through burn autodiff).
//!
//! ```text
//! pos_embed          PatchEmbed: proj (conv, kernel = stride = patch) + the checkpoint's
//!                    `pos_embed.pos_embed` table [1, max², D], centre-cropped to the grid
//! time_text_embed    timestep_embedder (sinusoid 256 → MLP) + text_embedder (pooled → MLP)
//! context_embedder   joint_attention_dim → D
//! transformer_blocks JointTransformerBlock × num_layers (the last context_pre_only)
//! norm_out, proj_out AdaLayerNormContinuous, linear to patch² · out_channels; unpatchify
//! ```

mod blocks;
mod config;

pub use blocks::{
    AdaNormContinuous, AdaNormZero, ContextNorm, FeedForward, GeluProj, JointAttention,
    JointTransformerBlock, QkNorm, layer_norm_plain,
};
pub use config::Sd3TransformerConfig;

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::embeddings::{TimestepEmbedding, timestep_embedding};
use crate::error::ConfigError;
use crate::layers::{conv2d, linear};
use crate::unet::Taps;
use crate::unet::model::tap;

/// `PatchEmbed` with SD3's cropped position table (`pos_embed_max_size`).
#[derive(Module, Debug)]
pub struct PatchEmbed {
    pub proj: Conv2d,
    /// `[1, max², D]`: a persistent buffer in diffusers (loaded, never trained: `forward`
    /// reads it detached).
    pub pos_embed: Param<Tensor<3>>,
    #[module(skip)]
    pub patch_size: usize,
    #[module(skip)]
    pub max_size: usize,
}

impl PatchEmbed {
    /// `[B, C, H, W]` → tokens `[B, (H/p)(W/p), D]` plus the centre crop of the table.
    pub fn forward(&self, latent: Tensor<4>) -> Tensor<3> {
        let [_, _, h, w] = latent.dims();
        let (gh, gw) = (h / self.patch_size, w / self.patch_size);
        let x = self.proj.forward(latent);
        let d = x.dims()[1];
        let tokens = crate::layers::to_tokens(x);
        let m = self.max_size;
        let (top, left) = ((m - gh) / 2, (m - gw) / 2);
        let table = self.pos_embed.val().detach().reshape([m, m, d]);
        let crop = table
            .slice([top..top + gh, left..left + gw, 0..d])
            .reshape([1, gh * gw, d]);
        tokens + crop
    }
}

/// `CombinedTimestepTextProjEmbeddings`: sinusoid(t, 256) → `timestep_embedder`, plus
/// `text_embedder(pooled)` (PixArt-α projection with SiLU: the same two-linear MLP).
#[derive(Module, Debug)]
pub struct TimeTextEmbed {
    pub timestep_embedder: TimestepEmbedding,
    pub text_embedder: TimestepEmbedding,
}

/// The MMDiT of SD3/SD3.5. Field names are diffusers' attribute names.
#[derive(Module, Debug)]
pub struct Sd3Transformer2DModel {
    pub pos_embed: PatchEmbed,
    pub time_text_embed: TimeTextEmbed,
    pub context_embedder: Linear,
    pub transformer_blocks: Vec<JointTransformerBlock>,
    pub norm_out: AdaNormContinuous,
    pub proj_out: Linear,
    #[module(skip)]
    config: Sd3TransformerConfig,
}

impl Sd3Transformer2DModel {
    /// Build with freshly initialised weights from a config (validated first).
    pub fn new(config: &Sd3TransformerConfig, device: &Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let d = config.inner_dim();
        let p = config.patch_size;
        let max = config.pos_embed_max_size.expect("validated");
        let n = config.num_layers;
        Ok(Self {
            pos_embed: PatchEmbed {
                proj: conv2d(config.in_channels, d, p, p, 0, device),
                // Deviation: diffusers fills a fresh model's table with 2-D sin-cos values;
                // here it is zeros until loaded. The table is a checkpoint buffer every
                // released SD3/SD3.5 file carries (and loading requires it), so a model built
                // to be trained from scratch is the only case that differs.
                pos_embed: Param::from_tensor(Tensor::zeros([1, max * max, d], device)),
                patch_size: p,
                max_size: max,
            },
            time_text_embed: TimeTextEmbed {
                timestep_embedder: TimestepEmbedding::new(256, d, device),
                text_embedder: TimestepEmbedding::new(config.pooled_projection_dim, d, device),
            },
            context_embedder: linear(
                config.joint_attention_dim,
                config.caption_projection_dim,
                true,
                device,
            ),
            transformer_blocks: (0..n)
                .map(|i| {
                    JointTransformerBlock::new(
                        d,
                        config.num_attention_heads,
                        config.attention_head_dim,
                        i + 1 == n,
                        config.has_qk_norm(),
                        config.dual_attention_layers.contains(&i),
                        device,
                    )
                })
                .collect(),
            norm_out: AdaNormContinuous::new(d, device),
            proj_out: linear(d, p * p * config.out_channels(), true, device),
            config: config.clone(),
        })
    }

    /// The config this model was built from.
    pub fn config(&self) -> &Sd3TransformerConfig {
        &self.config
    }

    /// Whether a latent of `height × width` fits: multiples of the patch size, at most
    /// `pos_embed_max_size` patches per side. The error says which bound is broken.
    pub fn check_latent_size(&self, height: usize, width: usize) -> Result<(), ConfigError> {
        let (p, m) = (self.config.patch_size, self.pos_embed.max_size);
        if !height.is_multiple_of(p) || !width.is_multiple_of(p) || height == 0 || width == 0 {
            return Err(ConfigError(format!(
                "latent {height}x{width} is not a positive multiple of patch_size = {p}"
            )));
        }
        if height / p > m || width / p > m {
            return Err(ConfigError(format!(
                "latent {height}x{width} has more than pos_embed_max_size = {m} patches per side \
                 (at most {0}x{0} latent cells)",
                m * p
            )));
        }
        Ok(())
    }

    /// Predict the flow velocity.
    ///
    /// - `hidden_states` `[B, in_channels, H, W]` (H, W as [`Self::check_latent_size`] allows),
    /// - `encoder_hidden_states` `[B, L, joint_attention_dim]`,
    /// - `pooled_projections` `[B, pooled_projection_dim]`,
    /// - `timestep` `[B]`, one (fractional, σ·1000) timestep per sample.
    ///
    /// # Panics
    /// On a latent size [`Self::check_latent_size`] refuses, or a timestep count ≠ B.
    pub fn forward(
        &self,
        hidden_states: Tensor<4>,
        encoder_hidden_states: Tensor<3>,
        pooled_projections: Tensor<2>,
        timestep: Tensor<1>,
    ) -> Tensor<4> {
        self.run(
            hidden_states,
            encoder_hidden_states,
            pooled_projections,
            timestep,
            None,
        )
    }

    /// [`Self::forward`] that also records every stage's output under diffusers' module
    /// names (`pos_embed`, `time_text_embed`, `context_embedder`, `transformer_blocks.N` and
    /// `transformer_blocks.N.context`, `norm_out`), for parity tests.
    pub fn forward_with_taps(
        &self,
        hidden_states: Tensor<4>,
        encoder_hidden_states: Tensor<3>,
        pooled_projections: Tensor<2>,
        timestep: Tensor<1>,
    ) -> (Tensor<4>, Taps) {
        let mut taps = Vec::new();
        let out = self.run(
            hidden_states,
            encoder_hidden_states,
            pooled_projections,
            timestep,
            Some(&mut taps),
        );
        (out, taps)
    }

    fn run(
        &self,
        hidden_states: Tensor<4>,
        encoder_hidden_states: Tensor<3>,
        pooled_projections: Tensor<2>,
        timestep: Tensor<1>,
        mut taps: Option<&mut Taps>,
    ) -> Tensor<4> {
        let [b, _, h, w] = hidden_states.dims();
        if let Err(e) = self.check_latent_size(h, w) {
            panic!("{e}");
        }
        assert_eq!(
            timestep.dims()[0],
            b,
            "timestep must have one entry per sample ([B])"
        );
        let mut x = self.pos_embed.forward(hidden_states);
        tap(&mut taps, "pos_embed", &x);
        let t = timestep_embedding(timestep, 256, true, 0.0);
        let temb = self.time_text_embed.timestep_embedder.forward(t)
            + self
                .time_text_embed
                .text_embedder
                .forward(pooled_projections);
        tap(&mut taps, "time_text_embed", &temb);
        let mut context = Some(self.context_embedder.forward(encoder_hidden_states));
        if let Some(c) = &context {
            tap(&mut taps, "context_embedder", c);
        }
        for (i, block) in self.transformer_blocks.iter().enumerate() {
            let c = context
                .take()
                .expect("only the last block drops the context");
            let (c, out) = block.forward(x, c, temb.clone());
            x = out;
            tap(&mut taps, &format!("transformer_blocks.{i}"), &x);
            if let Some(c) = &c {
                tap(&mut taps, &format!("transformer_blocks.{i}.context"), c);
            }
            context = c;
        }
        let x = self.norm_out.forward(x, temb);
        tap(&mut taps, "norm_out", &x);
        let x = self.proj_out.forward(x);
        let p = self.config.patch_size;
        let c = self.config.out_channels();
        let (gh, gw) = (h / p, w / p);
        x.reshape([b, gh, gw, p, p, c])
            .permute([0, 5, 1, 3, 2, 4])
            .reshape([b, c, gh * p, gw * p])
    }
}

/// The original (Stability) single-file layout of the MMDiT, below
/// `model.diffusion_model.`, → diffusers keys: a port of diffusers'
/// `convert_sd3_transformer_checkpoint_to_diffusers` (`loaders/single_file_utils.py`) as a
/// declarative table. Fused `qkv` projections are split in three; the adaLN modulation of the
/// last block's context norm and of `final_layer` store `shift, scale`, which diffusers'
/// `AdaLayerNormContinuous` reads as `scale, shift` (swapped halves).
pub fn original_keys(config: &Sd3TransformerConfig) -> Vec<adt_models_common::convert::Rule> {
    use adt_models_common::convert::{Transform::*, rule};
    let last = config.num_layers.saturating_sub(1);
    let b = r"^joint_blocks\.(\d+)\.";
    vec![
        rule(r"^pos_embed$", "pos_embed.pos_embed", Copy),
        rule(
            r"^x_embedder\.proj\.(weight|bias)$",
            "pos_embed.proj.$1",
            Copy,
        ),
        rule(
            r"^t_embedder\.mlp\.0\.(weight|bias)$",
            "time_text_embed.timestep_embedder.linear_1.$1",
            Copy,
        ),
        rule(
            r"^t_embedder\.mlp\.2\.(weight|bias)$",
            "time_text_embed.timestep_embedder.linear_2.$1",
            Copy,
        ),
        rule(
            r"^y_embedder\.mlp\.0\.(weight|bias)$",
            "time_text_embed.text_embedder.linear_1.$1",
            Copy,
        ),
        rule(
            r"^y_embedder\.mlp\.2\.(weight|bias)$",
            "time_text_embed.text_embedder.linear_2.$1",
            Copy,
        ),
        rule(
            r"^context_embedder\.(weight|bias)$",
            "context_embedder.$1",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.attn\.qkv\.(weight|bias)$"),
            "transformer_blocks.$1.attn.to_{}.$2",
            SplitQkv,
        ),
        rule(
            format!(r"{b}context_block\.attn\.qkv\.(weight|bias)$"),
            "transformer_blocks.$1.attn.add_{}_proj.$2",
            SplitQkv,
        ),
        rule(
            format!(r"{b}x_block\.attn\.ln_(q|k)\.weight$"),
            "transformer_blocks.$1.attn.norm_$2.weight",
            Copy,
        ),
        rule(
            format!(r"{b}context_block\.attn\.ln_(q|k)\.weight$"),
            "transformer_blocks.$1.attn.norm_added_$2.weight",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.attn\.proj\.(weight|bias)$"),
            "transformer_blocks.$1.attn.to_out.0.$2",
            Copy,
        ),
        rule(
            format!(r"{b}context_block\.attn\.proj\.(weight|bias)$"),
            "transformer_blocks.$1.attn.to_add_out.$2",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.attn2\.qkv\.(weight|bias)$"),
            "transformer_blocks.$1.attn2.to_{}.$2",
            SplitQkv,
        ),
        rule(
            format!(r"{b}x_block\.attn2\.ln_(q|k)\.weight$"),
            "transformer_blocks.$1.attn2.norm_$2.weight",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.attn2\.proj\.(weight|bias)$"),
            "transformer_blocks.$1.attn2.to_out.0.$2",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.adaLN_modulation\.1\.(weight|bias)$"),
            "transformer_blocks.$1.norm1.linear.$2",
            Copy,
        ),
        // The last block's context norm is adaLN-Continuous: (shift, scale) → (scale, shift).
        rule(
            format!(r"^joint_blocks\.({last})\.context_block\.adaLN_modulation\.1\.(weight|bias)$"),
            "transformer_blocks.$1.norm1_context.linear.$2",
            SwapHalves,
        ),
        rule(
            format!(r"{b}context_block\.adaLN_modulation\.1\.(weight|bias)$"),
            "transformer_blocks.$1.norm1_context.linear.$2",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.mlp\.fc1\.(weight|bias)$"),
            "transformer_blocks.$1.ff.net.0.proj.$2",
            Copy,
        ),
        rule(
            format!(r"{b}x_block\.mlp\.fc2\.(weight|bias)$"),
            "transformer_blocks.$1.ff.net.2.$2",
            Copy,
        ),
        rule(
            format!(r"{b}context_block\.mlp\.fc1\.(weight|bias)$"),
            "transformer_blocks.$1.ff_context.net.0.proj.$2",
            Copy,
        ),
        rule(
            format!(r"{b}context_block\.mlp\.fc2\.(weight|bias)$"),
            "transformer_blocks.$1.ff_context.net.2.$2",
            Copy,
        ),
        rule(r"^final_layer\.linear\.(weight|bias)$", "proj_out.$1", Copy),
        rule(
            r"^final_layer\.adaLN_modulation\.1\.(weight|bias)$",
            "norm_out.linear.$1",
            SwapHalves,
        ),
    ]
}
