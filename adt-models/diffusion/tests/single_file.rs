//! Original-layout (CompVis/LDM) single file -> the same models as the diffusers folders.
//! The fixture single file was made by inverting diffusers' `convert_ldm_*_checkpoint`
//! and checked by running those converters on it (`scripts/fixtures/diffusion.py`); it also
//! carries entries neither model uses (`alphas_cumprod`, `cond_stage_model.*`).

use crate::common;

use adt_diffusion::{
    AutoencoderKL, AutoencoderKLConfig, UNet2DConditionConfig, UNet2DConditionModel,
};
use adt_models_common::testing::assert_close;
use adt_models_common::{ModelSource, read_config};
use burn::prelude::*;
use common::*;

fn single_file() -> std::path::PathBuf {
    fixtures().join("sd15_tiny_single_file.safetensors")
}

#[test]
fn unet_from_single_file_matches_diffusers_reference() {
    let device = device();
    let config: UNet2DConditionConfig =
        read_config(&fixtures().join("sd15_tiny/unet/config.json")).expect("fixture config");
    let unet = UNet2DConditionModel::from_single_file(&single_file(), &config, &device)
        .expect("load single file");
    let io = reference("sd15_tiny_unet_io.safetensors");
    let out = unet.forward(
        tensor(&io, "sample", &device),
        tensor(&io, "timesteps", &device),
        tensor(&io, "encoder_hidden_states", &device),
        None,
    );
    assert_close(
        "single-file UNet out",
        &out.to_data(),
        get(&io, "out"),
        F32_TOL,
    );

    // Bit-identical to the diffusers-folder load, parameter by parameter.
    let folder = UNet2DConditionModel::from_pretrained(
        &ModelSource::Local(fixtures().join("sd15_tiny")),
        "unet",
        &device,
    )
    .expect("load folder");
    assert_same_params(&unet, &folder);
}

#[test]
fn vae_from_single_file_matches_diffusers_reference() {
    let device = device();
    let config: AutoencoderKLConfig =
        read_config(&fixtures().join("sd15_tiny/vae/config.json")).expect("fixture config");
    let vae = AutoencoderKL::from_single_file(&single_file(), &config, &device)
        .expect("load single file");
    let io = reference("sd15_tiny_vae_io.safetensors");
    let posterior = vae.encode(tensor(&io, "x", &device));
    assert_close(
        "single-file VAE mean",
        &posterior.mean.to_data(),
        get(&io, "posterior.mean"),
        F32_TOL,
    );
    let out = vae.decode(tensor(&io, "z", &device));
    assert_close(
        "single-file VAE decoded",
        &out.to_data(),
        get(&io, "decoded"),
        F32_TOL,
    );
    let folder = AutoencoderKL::from_pretrained(
        &ModelSource::Local(fixtures().join("sd15_tiny")),
        "vae",
        &device,
    )
    .expect("load folder");
    assert_same_params(&vae, &folder);
}

/// Every parameter of `a` equals the one at the same path in `b`, exactly.
fn assert_same_params<M: Module>(a: &M, b: &M) {
    use burn::module::{ModuleVisitor, Param};
    struct Collect(Vec<TensorData>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push(p.val().to_data());
        }
    }
    let (mut ca, mut cb) = (Collect(Vec::new()), Collect(Vec::new()));
    a.visit(&mut ca);
    b.visit(&mut cb);
    assert_eq!(ca.0.len(), cb.0.len());
    assert!(!ca.0.is_empty());
    for (i, (x, y)) in ca.0.iter().zip(&cb.0).enumerate() {
        assert_eq!(x, y, "parameter #{i} differs");
    }
}
