//! The UNets computed in bf16 (weights and inputs cast, timesteps and time ids kept f32, as
//! `adt_plugin::precision` runs the generator) stay within bf16's precision of the f32
//! output: relative max-abs ≤ 5% of the output's range (8-bit mantissa, ~40 layers deep).

use crate::common::*;
use adt_diffusion::{AddedCond, UNet2DConditionModel};
use adt_models_common::ModelSource;
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::DType;

struct Cast;
impl ModuleMapper for Cast {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| t.cast(DType::BF16))
    }
}

fn check(name: &str, fixture: &str, io: &str, sdxl: bool) {
    let device = device();
    let source = ModelSource::Local(fixtures().join(fixture));
    let unet = UNet2DConditionModel::from_pretrained(&source, "unet", &device).unwrap();
    let io = reference(io);
    let added = |cast: bool| {
        sdxl.then(|| AddedCond {
            text_embeds: {
                let t: Tensor<2> = tensor(&io, "text_embeds", &device);
                if cast { t.cast(DType::BF16) } else { t }
            },
            time_ids: tensor(&io, "time_ids", &device),
        })
    };
    let sample: Tensor<4> = tensor(&io, "sample", &device);
    let ehs: Tensor<3> = tensor(&io, "encoder_hidden_states", &device);
    let t: Tensor<1> = tensor(&io, "timesteps", &device);
    let reference = unet.forward(sample.clone(), t.clone(), ehs.clone(), added(false));
    let out = unet.clone().map(&mut Cast).forward(
        sample.cast(DType::BF16),
        t,
        ehs.cast(DType::BF16),
        added(true),
    );
    assert_eq!(out.dtype(), DType::BF16, "{name}");
    let err = (out.cast(DType::F32) - reference.clone())
        .abs()
        .max()
        .into_scalar::<f32>();
    let scale = reference.abs().max().into_scalar::<f32>();
    assert!(
        err <= 0.05 * scale,
        "{name}: bf16 vs f32 max-abs {err} (max |f32| {scale})"
    );
    assert!(err > 0.0, "{name}: bit-identical: bf16 not used");
}

#[test]
fn unets_run_in_bf16_within_its_precision() {
    check("sd15", "sd15_tiny", "sd15_tiny_unet_io.safetensors", false);
    check("sdxl", "sdxl_tiny", "sdxl_tiny_unet_io.safetensors", true);
}
