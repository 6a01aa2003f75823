//! `UNet2DConditionModel` (diffusers `unet_2d_condition.py`).

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::silu;

use super::blocks::{
    BlockAttention, BlockCommon, DownBlock2D, DownSpec, MidBlock2D, UpBlock2D, UpSpec,
};
use super::config::{
    DownBlockKind, MidBlockKind, ResolvedUNet, UNet2DConditionConfig, UpBlockKind,
};
use crate::embeddings::{TimestepEmbedding, timestep_embedding};
use crate::error::ConfigError;
use crate::layers::{conv2d, group_norm};

/// SDXL's extra conditioning (`added_cond_kwargs`): pooled text embeddings `[B, Dt]` and the
/// six size/crop numbers per sample `[B, 6]` (`addition_embed_type: "text_time"`).
#[derive(Debug, Clone)]
pub struct AddedCond {
    pub text_embeds: Tensor<2>,
    pub time_ids: Tensor<2>,
}

/// The denoising UNet of SD1.x/2.x/SDXL. Field names are diffusers' attribute names, so a
/// diffusers checkpoint loads without renaming (see [`crate::keys`] for the one exception).
#[derive(Module, Debug)]
pub struct UNet2DConditionModel {
    pub conv_in: Conv2d,
    pub time_embedding: TimestepEmbedding,
    pub add_embedding: Option<TimestepEmbedding>,
    pub down_blocks: Vec<DownBlock2D>,
    pub mid_block: Option<MidBlock2D>,
    pub up_blocks: Vec<UpBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
    #[module(skip)]
    config: UNet2DConditionConfig,
}

/// Per-block intermediate outputs of one forward pass, in execution order, under
/// diffusers' module names (`time_embedding`, `conv_in`, `down_blocks.0`, ...).
pub type Taps = Vec<(String, TensorData)>;

impl UNet2DConditionModel {
    /// Build with freshly initialised weights from a config (validated first).
    pub fn new(config: &UNet2DConditionConfig, device: &Device) -> Result<Self, ConfigError> {
        let r: ResolvedUNet = config.validate()?;
        let boc = &config.block_out_channels;
        let n = boc.len();
        let common = BlockCommon {
            temb_channels: r.time_embed_dim,
            groups: r.norm_groups,
            eps: config.norm_eps,
            use_linear_projection: config.use_linear_projection,
        };
        let attention = |i: usize, on: bool| {
            on.then_some(BlockAttention {
                heads: r.heads[i],
                transformer_layers: r.transformer_layers[i],
                cross_attention_dim: r.cross_attention_dim[i],
            })
        };
        let down_blocks = (0..n)
            .map(|i| {
                let spec = DownSpec {
                    in_channels: if i == 0 { boc[0] } else { boc[i - 1] },
                    out_channels: boc[i],
                    layers: r.layers_per_block[i],
                    add_downsample: i + 1 < n,
                    downsample_padding: config.downsample_padding,
                    attention: attention(i, r.down[i] == DownBlockKind::CrossAttnDownBlock2D),
                };
                DownBlock2D::new(spec, common, device)
            })
            .collect();
        let mid_block = r.mid.map(|kind| {
            let a = attention(n - 1, kind == MidBlockKind::UNetMidBlock2DCrossAttn);
            MidBlock2D::new(boc[n - 1], a, config.mid_block_scale_factor, common, device)
        });
        let up_blocks = (0..n)
            .map(|i| {
                let rev = n - 1 - i; // index into the down-order lists
                let spec = UpSpec {
                    in_channels: boc[rev.saturating_sub(1)],
                    prev_output_channel: if i == 0 { boc[n - 1] } else { boc[rev + 1] },
                    out_channels: boc[rev],
                    layers: r.layers_per_block[rev] + 1,
                    add_upsample: i + 1 < n,
                    attention: attention(rev, r.up[i] == UpBlockKind::CrossAttnUpBlock2D),
                };
                UpBlock2D::new(spec, common, device)
            })
            .collect();
        let kin = config.conv_in_kernel;
        let kout = config.conv_out_kernel;
        Ok(Self {
            conv_in: conv2d(config.in_channels, boc[0], kin, 1, (kin - 1) / 2, device),
            time_embedding: TimestepEmbedding::new(boc[0], r.time_embed_dim, device),
            add_embedding: r
                .text_time
                .map(|(_, proj_dim)| TimestepEmbedding::new(proj_dim, r.time_embed_dim, device)),
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out: group_norm(r.norm_groups, boc[0], config.norm_eps, device),
            conv_out: conv2d(boc[0], config.out_channels, kout, 1, (kout - 1) / 2, device),
            config: config.clone(),
        })
    }

    /// The config this model was built from.
    pub fn config(&self) -> &UNet2DConditionConfig {
        &self.config
    }

    /// Predict noise (or v / x0, per the checkpoint's training objective).
    ///
    /// - `sample` `[B, in_channels, H, W]` (any H, W; non-multiples of 2^k follow diffusers'
    ///   `upsample_size` path),
    /// - `timesteps` `[B]`, one (possibly fractional) timestep per sample,
    /// - `encoder_hidden_states` `[B, S, cross_attention_dim]`,
    /// - `added`: required iff the config has `addition_embed_type: "text_time"`.
    ///
    /// Differentiable with respect to every input and parameter under burn autodiff.
    pub fn forward(
        &self,
        sample: Tensor<4>,
        timesteps: Tensor<1>,
        encoder_hidden_states: Tensor<3>,
        added: Option<AddedCond>,
    ) -> Tensor<4> {
        self.run(sample, timesteps, encoder_hidden_states, added, None)
    }

    /// [`Self::forward`] that also records each block's output (for parity tests and
    /// debugging; costs one host copy per block).
    pub fn forward_with_taps(
        &self,
        sample: Tensor<4>,
        timesteps: Tensor<1>,
        encoder_hidden_states: Tensor<3>,
        added: Option<AddedCond>,
    ) -> (Tensor<4>, Taps) {
        let mut taps = Vec::new();
        let out = self.run(
            sample,
            timesteps,
            encoder_hidden_states,
            added,
            Some(&mut taps),
        );
        (out, taps)
    }

    /// The time embedding (`emb` in diffusers, before the blocks' SiLU): `[B, time_embed_dim]`.
    pub fn time_embed(&self, timesteps: Tensor<1>, added: Option<AddedCond>) -> Tensor<2> {
        self.embed(timesteps, added, &mut None)
    }

    fn embed(
        &self,
        timesteps: Tensor<1>,
        added: Option<AddedCond>,
        taps: &mut Option<&mut Taps>,
    ) -> Tensor<2> {
        let c = &self.config;
        let t_dim = c.block_out_channels[0];
        let t_emb = timestep_embedding(timesteps, t_dim, c.flip_sin_to_cos, c.freq_shift);
        let emb = self.time_embedding.forward(t_emb);
        tap(taps, "time_embedding", &emb);
        match (&self.add_embedding, added) {
            (Some(add_embedding), Some(added)) => {
                let time_dim = c
                    .addition_time_embed_dim
                    .expect("validated: text_time has addition_time_embed_dim");
                let [b, k] = added.time_ids.dims();
                let time_embeds = timestep_embedding(
                    added.time_ids.reshape([b * k]),
                    time_dim,
                    c.flip_sin_to_cos,
                    c.freq_shift,
                )
                .reshape([b, k * time_dim]);
                // In f32, as torch promotes a bf16 `text_embeds` joined to the f32 sinusoid;
                // `add_embedding` casts to its weights' dtype.
                let text_embeds = added.text_embeds.cast(time_embeds.dtype());
                let add_embeds = Tensor::cat(vec![text_embeds, time_embeds], 1);
                let aug = add_embedding.forward(add_embeds);
                tap(taps, "add_embedding", &aug);
                emb + aug
            }
            (Some(_), None) => panic!(
                "this UNet has addition_embed_type \"text_time\": pass AddedCond {{ text_embeds, time_ids }}"
            ),
            (None, _) => emb,
        }
    }

    fn run(
        &self,
        sample: Tensor<4>,
        timesteps: Tensor<1>,
        context: Tensor<3>,
        added: Option<AddedCond>,
        mut taps: Option<&mut Taps>,
    ) -> Tensor<4> {
        let [b, _, _, _] = sample.dims();
        assert_eq!(
            timesteps.dims()[0],
            b,
            "timesteps must have one entry per sample ([B])"
        );
        let sample = if self.config.center_input_sample {
            sample * 2.0 - 1.0
        } else {
            sample
        };
        let emb = self.embed(timesteps, added, &mut taps);

        let mut x = self.conv_in.forward(sample);
        tap(&mut taps, "conv_in", &x);
        let mut skips = vec![x.clone()];
        for (i, block) in self.down_blocks.iter().enumerate() {
            let (out, res) = block.forward(x, &emb, &context);
            x = out;
            skips.extend(res);
            tap(&mut taps, &format!("down_blocks.{i}"), &x);
        }
        if let Some(mid) = &self.mid_block {
            x = mid.forward(x, &emb, &context);
            tap(&mut taps, "mid_block", &x);
        }
        for (i, block) in self.up_blocks.iter().enumerate() {
            x = block.forward(x, &mut skips, &emb, &context);
            tap(&mut taps, &format!("up_blocks.{i}"), &x);
        }
        self.conv_out.forward(silu(self.conv_norm_out.forward(x)))
    }
}

/// Record `t` under `name` when taps are being collected (the parity tests' stage outputs).
pub(crate) fn tap<const D: usize>(taps: &mut Option<&mut Taps>, name: &str, t: &Tensor<D>) {
    if let Some(taps) = taps.as_deref_mut() {
        taps.push((name.to_string(), t.to_data()));
    }
}
