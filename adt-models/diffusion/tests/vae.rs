//! Tiny AutoencoderKL vs diffusers: posterior mean/logvar, sampling with given noise,
//! decode, per-block outputs, and d mean(decode(z)) / dz vs torch autograd.
//! Fixture: `scripts/fixtures/diffusion.py` (case `sd15_tiny/vae`).

use crate::common;

use adt_diffusion::AutoencoderKL;
use adt_models_common::ModelSource;
use adt_models_common::testing::assert_close;
use burn::prelude::*;
use common::*;

fn load(device: &Device) -> AutoencoderKL {
    AutoencoderKL::from_pretrained(
        &ModelSource::Local(fixtures().join("sd15_tiny")),
        "vae",
        device,
    )
    .expect("load the fixture VAE")
}

#[test]
fn vae_config_factors_come_from_config_json() {
    let vae = load(&device());
    // The fixture deliberately uses non-SD values so a hard-coded 0.18215 would fail.
    assert_eq!(vae.scaling_factor(), 0.3);
    assert_eq!(vae.shift_factor(), 0.0625);
    let z = Tensor::<4>::ones([1, 4, 2, 2], &device());
    let round_trip = vae.unscale_latents(vae.scale_latents(z.clone()));
    assert_close(
        "scale/unscale round trip",
        &round_trip.to_data(),
        &z.to_data(),
        1e-6,
    );
}

#[test]
fn vae_encode_matches_diffusers() {
    let device = device();
    let vae = load(&device);
    let io = reference("sd15_tiny_vae_io.safetensors");
    let x: Tensor<4> = tensor(&io, "x", &device);

    let enc = &vae.encoder;
    let h = enc.conv_in.forward(x.clone());
    assert_close(
        "encoder.conv_in",
        &h.to_data(),
        get(&io, "tap.encoder.conv_in"),
        F32_TOL,
    );
    let h = enc.down_blocks[0].forward(h);
    assert_close(
        "encoder.down_blocks.0",
        &h.to_data(),
        get(&io, "tap.encoder.down_blocks.0"),
        F32_TOL,
    );
    let h = enc.down_blocks[1].forward(h);
    assert_close(
        "encoder.down_blocks.1",
        &h.to_data(),
        get(&io, "tap.encoder.down_blocks.1"),
        F32_TOL,
    );
    let h = enc.mid_block.forward(h);
    assert_close(
        "encoder.mid_block",
        &h.to_data(),
        get(&io, "tap.encoder.mid_block"),
        F32_TOL,
    );

    let posterior = vae.encode(x);
    assert_close(
        "posterior.mean",
        &posterior.mean.to_data(),
        get(&io, "posterior.mean"),
        F32_TOL,
    );
    assert_close(
        "posterior.logvar",
        &posterior.logvar.to_data(),
        get(&io, "posterior.logvar"),
        F32_TOL,
    );
    let sample = posterior.sample_with(tensor(&io, "noise", &device));
    assert_close(
        "posterior.sample",
        &sample.to_data(),
        get(&io, "posterior.sample"),
        F32_TOL,
    );
}

#[test]
fn vae_decode_matches_diffusers() {
    let device = device();
    let vae = load(&device);
    let io = reference("sd15_tiny_vae_io.safetensors");
    let z: Tensor<4> = tensor(&io, "z", &device);
    let dec = &vae.decoder;
    let post = vae
        .post_quant_conv
        .as_ref()
        .expect("use_post_quant_conv")
        .forward(z.clone());
    let h = dec.conv_in.forward(post);
    assert_close(
        "decoder.conv_in",
        &h.to_data(),
        get(&io, "tap.decoder.conv_in"),
        F32_TOL,
    );
    let h = dec.mid_block.forward(h);
    assert_close(
        "decoder.mid_block",
        &h.to_data(),
        get(&io, "tap.decoder.mid_block"),
        F32_TOL,
    );
    let h = dec.up_blocks[0].forward(h);
    assert_close(
        "decoder.up_blocks.0",
        &h.to_data(),
        get(&io, "tap.decoder.up_blocks.0"),
        F32_TOL,
    );
    let h = dec.up_blocks[1].forward(h);
    assert_close(
        "decoder.up_blocks.1",
        &h.to_data(),
        get(&io, "tap.decoder.up_blocks.1"),
        F32_TOL,
    );

    let out = vae.decode(z);
    assert_eq!(out.dims(), [2, 3, 16, 24]);
    assert_close("decoded", &out.to_data(), get(&io, "decoded"), F32_TOL);
}

#[test]
fn vae_decode_gradient_wrt_latents_matches_torch() {
    let device = device().autodiff();
    let vae = load(&device).no_grad();
    let io = reference("sd15_tiny_vae_io.safetensors");
    let z = tensor::<4>(&io, "z", &device).require_grad();
    let grads = vae.decode(z.clone()).mean().backward();
    let gz = z.grad(&grads).expect("gradient wrt z");
    assert_grad_close("grad.z", &gz.to_data(), get(&io, "grad.z"));
    // Frozen weights get no gradient.
    assert!(vae.decoder.conv_in.weight.grad(&grads).is_none());
}
