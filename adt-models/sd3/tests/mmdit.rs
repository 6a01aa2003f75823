//! SD3's and SD3.5's MMDiT (`SD3Transformer2DModel`) against diffusers: every stage's output,
//! the prediction on a non-square latent with per-sample fractional timesteps, and the input
//! gradient by torch autograd; the SD3.5 model (QK RMS-norm, MMDiT-X dual attention) stored
//! in bf16; the Stability single-file layout; bad inputs.

use adt_diffusion::{Sd3Transformer2DModel, Sd3TransformerConfig};
use adt_models_common::testing::assert_close;
use adt_models_common::{LoadError, ModelSource, read_config};
use burn::prelude::*;

use crate::common::*;

fn check(name: &str, model: &Sd3Transformer2DModel, device: &Device) {
    let io = io();
    let k = |s: &str| format!("{name}.{s}");
    let (out, taps) = model.forward_with_taps(
        tensor(&io, &k("hidden_states"), device),
        tensor(&io, &k("encoder_hidden_states"), device),
        tensor(&io, &k("pooled_projections"), device),
        tensor(&io, &k("timestep"), device),
    );
    let blocks = model.config().num_layers;
    // Every block's sample stream, every context stream but the last block's (it has none).
    assert_eq!(
        taps.len(),
        3 + blocks + (blocks - 1) + 1,
        "taps: {:?}",
        taps.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (tap, data) in &taps {
        assert_close(
            &format!("{name} {tap}"),
            data,
            get(&io, &k(&format!("tap.{tap}"))),
            F32_TOL,
        );
    }
    assert_close(
        &format!("{name} sample"),
        &out.to_data(),
        get(&io, &k("sample")),
        F32_TOL,
    );
}

fn gradient(name: &str, model: Sd3Transformer2DModel) {
    let device = Device::flex().autodiff();
    let model = model.to_device(&device);
    let io = io();
    let k = |s: &str| format!("{name}.{s}");
    let x = tensor::<4>(&io, &k("hidden_states"), &device).require_grad();
    let out = model.forward(
        x.clone(),
        tensor(&io, &k("encoder_hidden_states"), &device),
        tensor(&io, &k("pooled_projections"), &device),
        tensor(&io, &k("timestep"), &device),
    );
    let grads = (out * tensor::<4>(&io, &k("grad_weight"), &device))
        .sum()
        .backward();
    let g = x
        .grad(&grads)
        .expect("gradient of the latent input")
        .into_data();
    let reference = get(&io, &k("grad.hidden_states"));
    let scale = reference.iter::<f32>().map(f32::abs).fold(0.0, f32::max);
    assert!(scale > 0.0, "reference gradient is all zeros");
    assert_close(
        &format!("{name} input gradient"),
        &g,
        reference,
        GRAD_REL_TOL * scale,
    );
}

#[test]
fn sd3_mmdit_matches_diffusers_stage_by_stage_with_gradients() {
    let device = Device::flex();
    let source = ModelSource::Local(fixtures().join("tiny_sd3"));
    let model = Sd3Transformer2DModel::from_pretrained(&source, "transformer", &device).unwrap();
    assert!(!model.config().has_qk_norm());
    check("mmdit", &model, &device);
    gradient("mmdit", model);
}

#[test]
fn sd35_mmdit_with_qk_norm_and_dual_attention_from_bf16_matches_diffusers() {
    let device = Device::flex();
    let source = ModelSource::Local(fixtures().join("sd35_transformer"));
    let model = Sd3Transformer2DModel::from_pretrained(&source, "", &device).unwrap();
    assert!(model.config().has_qk_norm());
    assert!(model.transformer_blocks[0].attn2.is_some());
    assert!(model.transformer_blocks[1].attn2.is_none());
    check("sd35", &model, &device);
    gradient("sd35", model);
}

#[test]
fn mmdit_from_the_stability_single_file_equals_the_folder_rounded_to_f16() {
    let device = Device::flex();
    let source = ModelSource::Local(fixtures().join("tiny_sd3"));
    let config: Sd3TransformerConfig =
        read_config(&fixtures().join("tiny_sd3/transformer/config.json")).unwrap();
    let from_file = Sd3Transformer2DModel::from_single_file(
        &fixtures().join("tiny_sd3_no_encoders.safetensors"),
        &config,
        &device,
    )
    .unwrap();
    let folder = Sd3Transformer2DModel::from_pretrained(&source, "transformer", &device).unwrap();
    let io = io();
    let run = |m: &Sd3Transformer2DModel| {
        m.forward(
            tensor(&io, "mmdit.hidden_states", &device),
            tensor(&io, "mmdit.encoder_hidden_states", &device),
            tensor(&io, "mmdit.pooled_projections", &device),
            tensor(&io, "mmdit.timestep", &device),
        )
        .into_data()
    };
    // The file is f16: the same model up to f16 rounding of every weight; the fused qkv,
    // the swapped adaLN halves and the renamed embedders must all land in the right place.
    let (a, b) = (run(&from_file), run(&folder));
    let scale = b.iter::<f32>().map(f32::abs).fold(0.0, f32::max);
    assert_close("single file vs folder", &a, &b, 5e-3 * scale);
    // Exactly the f16-rounded folder weights: compare one swapped tensor bit for bit.
    let w = |m: &Sd3Transformer2DModel| m.norm_out.linear.weight.val().into_data();
    let rounded = w(&folder).convert::<half::f16>().convert::<f32>();
    assert_eq!(w(&from_file), rounded, "final-layer adaLN (swapped halves)");
}

#[test]
fn mmdit_bad_inputs_are_named() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config_text =
        std::fs::read_to_string(fixtures().join("tiny_sd3/transformer/config.json")).unwrap();
    // An unknown qk_norm value is refused by name.
    let bad = config_text.replace("\"qk_norm\": null", "\"qk_norm\": \"layer_norm\"");
    std::fs::write(dir.path().join("config.json"), bad).unwrap();
    std::fs::copy(
        fixtures().join("tiny_sd3/transformer/diffusion_pytorch_model.safetensors"),
        dir.path().join("diffusion_pytorch_model.safetensors"),
    )
    .unwrap();
    let err =
        Sd3Transformer2DModel::from_pretrained(&ModelSource::Local(dir.path().into()), "", &device)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("qk_norm") && err.contains("layer_norm"),
        "{err}"
    );
    // An SD3.5 file into an SD3 config: MMDiT-X's 9-chunk adaLN in block 0 has the wrong
    // shape; with dual attention but no QK norm, the norm weights are unused keys.
    let sd3: Sd3TransformerConfig =
        read_config(&fixtures().join("tiny_sd3/transformer/config.json")).unwrap();
    let sd35_file = fixtures().join("sd35_transformer/diffusion_pytorch_model.safetensors");
    let load = |config: &Sd3TransformerConfig| {
        let model = Sd3Transformer2DModel::new(config, &device).unwrap();
        adt_models_common::load_safetensors_with(
            model,
            std::slice::from_ref(&sd35_file),
            &Default::default(),
        )
        .map(|_: Sd3Transformer2DModel| ())
        .unwrap_err()
    };
    let err = load(&sd3);
    assert!(matches!(err, LoadError::Shape { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("transformer_blocks.0.norm1.linear.weight"),
        "{err}"
    );
    let err = load(&Sd3TransformerConfig {
        dual_attention_layers: vec![0],
        ..sd3.clone()
    });
    assert!(matches!(err, LoadError::UnusedKeys { .. }), "{err}");
    assert!(err.to_string().contains("norm_q"), "{err}");
    // A latent larger than the position table.
    let model = Sd3Transformer2DModel::new(&sd3, &device).unwrap();
    let err = model.check_latent_size(34, 16).unwrap_err().to_string();
    assert!(err.contains("pos_embed_max_size"), "{err}");
    let err = model.check_latent_size(7, 8).unwrap_err().to_string();
    assert!(err.contains("patch_size"), "{err}");
    // A single file without an MMDiT.
    let err = Sd3Transformer2DModel::from_single_file(
        &fixtures().join("t5_fp8.safetensors"),
        &sd3,
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model.diffusion_model."), "{err}");
}
