//! SD1.5-layout tiny UNet vs diffusers: per-block outputs, end-to-end output, gradients.
//! Fixture: `scripts/fixtures/diffusion.py` (case `sd15_tiny/unet`, latent 16x24,
//! per-sample timesteps [999, 37]).

use crate::common;

use adt_diffusion::UNet2DConditionModel;
use adt_diffusion::transformer::Projection;
use adt_models_common::ModelSource;
use adt_models_common::testing::assert_close;
use burn::prelude::*;
use common::*;

fn load(device: &Device) -> UNet2DConditionModel {
    let source = ModelSource::Local(fixtures().join("sd15_tiny"));
    UNet2DConditionModel::from_pretrained(&source, "unet", device)
        .expect("load the SD1.5 fixture UNet")
}

#[test]
fn sd15_unet_matches_diffusers_per_block_and_end_to_end() {
    let device = device();
    let unet = load(&device);
    let io = reference("sd15_tiny_unet_io.safetensors");
    let (out, taps) = unet.forward_with_taps(
        tensor(&io, "sample", &device),
        tensor(&io, "timesteps", &device),
        tensor(&io, "encoder_hidden_states", &device),
        None,
    );
    let names: Vec<&str> = taps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "time_embedding",
            "conv_in",
            "down_blocks.0",
            "down_blocks.1",
            "down_blocks.2",
            "mid_block",
            "up_blocks.0",
            "up_blocks.1",
            "up_blocks.2"
        ]
    );
    for (name, data) in &taps {
        assert_close(name, data, get(&io, &format!("tap.{name}")), F32_TOL);
    }
    assert_eq!(out.dims(), [2, 4, 16, 24]);
    assert_close("out", &out.to_data(), get(&io, "out"), F32_TOL);
}

#[test]
fn sd15_unet_gradients_match_torch_autograd() {
    let device = device().autodiff();
    let unet = load(&device);
    let io = reference("sd15_tiny_unet_io.safetensors");
    let sample = tensor::<4>(&io, "sample", &device).require_grad();
    let ehs = tensor::<3>(&io, "encoder_hidden_states", &device).require_grad();
    let out = unet.forward(
        sample.clone(),
        tensor(&io, "timesteps", &device),
        ehs.clone(),
        None,
    );
    let loss = out.powf_scalar(2.0).mean();
    assert_close(
        "loss",
        &loss.to_data().convert::<f32>(),
        get(&io, "loss"),
        F32_TOL,
    );
    let grads = loss.backward();

    let g = |t: Option<Tensor<4>>| t.expect("gradient").to_data();
    assert_grad_close(
        "grad.sample",
        &g(sample.grad(&grads)),
        get(&io, "grad.sample"),
    );
    assert_grad_close(
        "grad.encoder_hidden_states",
        &ehs.grad(&grads).expect("gradient").to_data(),
        get(&io, "grad.encoder_hidden_states"),
    );
    let p = "grad.param.";
    assert_grad_close(
        "conv_in.weight",
        &g(unet.conv_in.weight.grad(&grads)),
        get(&io, &format!("{p}conv_in.weight")),
    );
    assert_grad_close(
        "time_embedding.linear_1.weight",
        &linear_to_torch(
            unet.time_embedding
                .linear_1
                .weight
                .grad(&grads)
                .expect("gradient"),
        ),
        get(&io, &format!("{p}time_embedding.linear_1.weight")),
    );
    let attn2 = &unet.down_blocks[0].attentions[0].transformer_blocks[0].attn2;
    assert_grad_close(
        "down_blocks.0...attn2.to_k.weight",
        &linear_to_torch(attn2.to_k.weight.grad(&grads).expect("gradient")),
        get(
            &io,
            &format!("{p}down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"),
        ),
    );
    let Projection::Conv(proj_in) = &unet.down_blocks[1].attentions[1].proj_in else {
        panic!("SD1.5 uses conv projections")
    };
    assert_grad_close(
        "down_blocks.1.attentions.1.proj_in.weight",
        &g(proj_in.weight.grad(&grads)),
        get(
            &io,
            &format!("{p}down_blocks.1.attentions.1.proj_in.weight"),
        ),
    );
    let ff = &unet.mid_block.as_ref().expect("mid block").attentions[0].transformer_blocks[0].ff;
    assert_grad_close(
        "mid_block...ff.net.0.proj.weight",
        &linear_to_torch(ff.net.0.proj.weight.grad(&grads).expect("gradient")),
        get(
            &io,
            &format!("{p}mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight"),
        ),
    );
    let norm1 = &unet.up_blocks[2].resnets[0].norm1;
    assert_grad_close(
        "up_blocks.2.resnets.0.norm1.weight",
        &norm1
            .gamma
            .as_ref()
            .expect("affine")
            .grad(&grads)
            .expect("gradient")
            .to_data(),
        get(&io, &format!("{p}up_blocks.2.resnets.0.norm1.weight")),
    );
    assert_grad_close(
        "conv_out.bias",
        &unet
            .conv_out
            .bias
            .as_ref()
            .expect("bias")
            .grad(&grads)
            .expect("gradient")
            .to_data(),
        get(&io, &format!("{p}conv_out.bias")),
    );
}
