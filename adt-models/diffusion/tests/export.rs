//! Export to diffusers' layout: the written file has exactly diffusers' keys and shapes,
//! and load -> export -> load is lossless.

use crate::common;

use adt_diffusion::{AutoencoderKL, UNet2DConditionModel};
use adt_models_common::ModelSource;
use adt_models_common::tensor_io::read_tensors;
use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use common::*;

fn params<M: Module>(m: &M) -> Vec<TensorData> {
    struct Collect(Vec<TensorData>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push(p.val().to_data());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

fn same_keys_and_values(original: &std::path::Path, exported: &std::path::Path) {
    let a = read_tensors(original).expect("original");
    let b = read_tensors(exported).expect("exported");
    let ka: Vec<&String> = a.keys().collect();
    let kb: Vec<&String> = b.keys().collect();
    assert_eq!(ka, kb, "exported keys differ from diffusers' keys");
    for (k, v) in &a {
        assert_eq!(v.shape(), b[k].shape(), "{k}: shape");
        assert_eq!(v, &b[k], "{k}: values");
    }
}

#[test]
fn unet_export_round_trip_is_lossless() {
    let device = device();
    for (case, file) in [
        ("sd15_tiny", "diffusion_pytorch_model.safetensors"),
        ("sdxl_tiny", "diffusion_pytorch_model.fp16.safetensors"),
    ] {
        let src = ModelSource::Local(fixtures().join(case));
        let unet = UNet2DConditionModel::from_pretrained(&src, "unet", &device).expect("load");
        let dir = tempfile::tempdir().expect("tempdir");
        unet.save_pretrained(&dir.path().join("unet"))
            .expect("export");
        // Same key set and (f16 -> f32 upcast) values as the diffusers file.
        same_keys_and_values(
            &fixtures().join(case).join("unet").join(file),
            &dir.path().join("unet/diffusion_pytorch_model.safetensors"),
        );
        let reloaded = UNet2DConditionModel::from_pretrained(
            &ModelSource::Local(dir.path().to_path_buf()),
            "unet",
            &device,
        )
        .expect("reload the export");
        assert_eq!(
            reloaded.config().block_out_channels,
            unet.config().block_out_channels
        );
        assert_eq!(
            params(&reloaded),
            params(&unet),
            "{case}: round trip changed a parameter"
        );
    }
}

#[test]
fn vae_export_round_trip_is_lossless() {
    let device = device();
    let src = ModelSource::Local(fixtures().join("sd15_tiny"));
    let vae = AutoencoderKL::from_pretrained(&src, "vae", &device).expect("load");
    let dir = tempfile::tempdir().expect("tempdir");
    vae.save_pretrained(&dir.path().join("vae"))
        .expect("export");
    same_keys_and_values(
        &fixtures().join("sd15_tiny/vae/diffusion_pytorch_model.safetensors"),
        &dir.path().join("vae/diffusion_pytorch_model.safetensors"),
    );
    let reloaded = AutoencoderKL::from_pretrained(
        &ModelSource::Local(dir.path().to_path_buf()),
        "vae",
        &device,
    )
    .expect("reload the export");
    assert_eq!(reloaded.scaling_factor(), vae.scaling_factor());
    assert_eq!(params(&reloaded), params(&vae));
}
