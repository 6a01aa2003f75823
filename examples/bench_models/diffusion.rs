//! `unet_small_*` and `vae_small_*`: diffusers' SD1.5 UNet and VAE layouts with widths
//! (32, 64, 128, 128), as tabulated in `bench-cases.md`.

use adt::models::diffusion::config_util::{PerBlock, SampleSize};
use adt::models::diffusion::{
    AutoencoderKL, AutoencoderKLConfig, UNet2DConditionConfig, UNet2DConditionModel,
};
use burn::prelude::*;

use crate::{Prepared, check_params, randn};

/// bench-cases.md: "parameters | 9,084,516".
const UNET_PARAMS: usize = 9_084_516;
/// bench-cases.md: "parameters used by decode | 3,104,343 (`post_quant_conv` + `decoder`)".
const VAE_DECODE_PARAMS: usize = 3_104_343;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The table of `unet_small_*`; every field not set is diffusers 0.37.1's default.
pub fn unet_config() -> UNet2DConditionConfig {
    UNet2DConditionConfig {
        sample_size: Some(SampleSize::Square(32)),
        in_channels: 4,
        out_channels: 4,
        down_block_types: strings(&[
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ]),
        mid_block_type: Some("UNetMidBlock2DCrossAttn".into()),
        up_block_types: strings(&[
            "UpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
        ]),
        block_out_channels: vec![32, 64, 128, 128],
        layers_per_block: PerBlock::One(2),
        transformer_layers_per_block: PerBlock::One(1),
        // diffusers quirk: the number of heads, not their width.
        attention_head_dim: PerBlock::One(8),
        cross_attention_dim: PerBlock::One(256),
        norm_num_groups: Some(32),
        norm_eps: 1e-5,
        use_linear_projection: false,
        flip_sin_to_cos: true,
        freq_shift: 0.0,
        act_fn: "silu".into(),
        downsample_padding: 1,
        ..Default::default()
    }
}

/// The table of `vae_small_*`.
pub fn vae_config() -> AutoencoderKLConfig {
    AutoencoderKLConfig {
        in_channels: 3,
        out_channels: 3,
        latent_channels: 4,
        down_block_types: strings(&["DownEncoderBlock2D"; 4]),
        up_block_types: strings(&["UpDecoderBlock2D"; 4]),
        block_out_channels: vec![32, 64, 128, 128],
        layers_per_block: 2,
        norm_num_groups: 32,
        act_fn: "silu".into(),
        use_quant_conv: true,
        use_post_quant_conv: true,
        mid_block_add_attention: true,
        sample_size: Some(SampleSize::Square(256)),
        scaling_factor: 0.18215,
        ..Default::default()
    }
}

fn unet(device: &Device) -> UNet2DConditionModel {
    let unet = UNet2DConditionModel::new(&unet_config(), device).expect("unet_small config");
    check_params("unet_small", unet.num_params(), UNET_PARAMS);
    unet
}

/// `sample` [2, 4, 32, 32], `timestep` [999, 499], `encoder_hidden_states` [2, 77, 256].
fn unet_inputs(device: &Device) -> (Tensor<4>, Tensor<1>, Tensor<3>) {
    (
        randn([2, 4, 32, 32], device),
        Tensor::from_floats([999.0, 499.0], device),
        randn([2, 77, 256], device),
    )
}

fn vae(device: &Device) -> AutoencoderKL {
    let vae = AutoencoderKL::new(&vae_config(), device).expect("vae_small config");
    let decode =
        vae.decoder.num_params() + vae.post_quant_conv.as_ref().map_or(0, |c| c.num_params());
    check_params("vae_small decode path", decode, VAE_DECODE_PARAMS);
    vae
}

/// Forward only, no autodiff.
pub fn unet_fwd(device: &Device) -> Prepared {
    let unet = unet(device);
    let (sample, t, ehs) = unet_inputs(device);
    Prepared {
        params: Some(UNET_PARAMS),
        step: Box::new(move || {
            Box::new(unet.forward(sample.clone(), t.clone(), ehs.clone(), None))
        }),
    }
}

/// Forward, `mean((out - target)²)`, backward w.r.t. every parameter (no optimizer
/// step); inputs do not require grad. The gradients are dropped after the clock stops.
pub fn unet_fwd_bwd(device: &Device) -> Prepared {
    let ad = device.clone().autodiff();
    let unet = unet(&ad);
    let (sample, t, ehs) = unet_inputs(&ad);
    let target = randn([2, 4, 32, 32], &ad);
    let mut checked = false;
    Prepared {
        params: Some(UNET_PARAMS),
        step: Box::new(move || {
            let out = unet.forward(sample.clone(), t.clone(), ehs.clone(), None);
            let grads = (out - target.clone()).powf_scalar(2.0).mean().backward();
            if !checked {
                // First (warm-up) run: the weights really receive gradients.
                assert!(unet.conv_in.weight.grad(&grads).is_some());
                assert!(unet.conv_out.weight.grad(&grads).is_some());
                checked = true;
            }
            Box::new(grads)
        }),
    }
}

/// `decode(z)`, `z` [1, 4, 32, 32], no autodiff.
pub fn vae_decode(device: &Device) -> Prepared {
    let vae = vae(device);
    let z = randn([1, 4, 32, 32], device);
    Prepared {
        params: Some(VAE_DECODE_PARAMS),
        step: Box::new(move || Box::new(vae.decode(z.clone()))),
    }
}

/// Frozen VAE, `mean(decode(z))` backward, gradient w.r.t. `z` only.
pub fn vae_decode_bwd(device: &Device) -> Prepared {
    let ad = device.clone().autodiff();
    let vae = vae(&ad).no_grad();
    let z = randn([1, 4, 32, 32], &ad).require_grad();
    Prepared {
        params: Some(VAE_DECODE_PARAMS),
        step: Box::new(move || {
            let grads = vae.decode(z.clone()).mean().backward();
            Box::new(z.grad(&grads).expect("gradient w.r.t. z"))
        }),
    }
}
