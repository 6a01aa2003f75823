//! SDXL-layout tiny UNet (text_time addition embedding, transformer_layers_per_block [1, 2],
//! linear projections) stored as the fp16 variant, vs diffusers run in f32 on the
//! f16-rounded weights. Fixture: `scripts/fixtures/diffusion.py` (case `sdxl_tiny/unet`).

use crate::common;

use adt_diffusion::transformer::Projection;
use adt_diffusion::{AddedCond, UNet2DConditionModel};
use adt_models_common::ModelSource;
use adt_models_common::testing::assert_close;
use burn::tensor::DType;
use common::*;

#[test]
fn sdxl_unet_fp16_variant_matches_diffusers() {
    let device = device();
    let source = ModelSource::Local(fixtures().join("sdxl_tiny"));
    let unet = UNet2DConditionModel::from_pretrained(&source, "unet", &device)
        .expect("load the SDXL fixture UNet");
    // Upcast on load: parameters are f32 even though the file is f16.
    assert_eq!(unet.conv_in.weight.val().dtype(), DType::F32);
    assert!(unet.add_embedding.is_some());
    assert_eq!(
        unet.down_blocks[1].attentions[0].transformer_blocks.len(),
        2
    );
    assert!(matches!(
        unet.down_blocks[1].attentions[0].proj_in,
        Projection::Linear(_)
    ));

    let io = reference("sdxl_tiny_unet_io.safetensors");
    let added = AddedCond {
        text_embeds: tensor(&io, "text_embeds", &device),
        time_ids: tensor(&io, "time_ids", &device),
    };
    let (out, taps) = unet.forward_with_taps(
        tensor(&io, "sample", &device),
        tensor(&io, "timesteps", &device),
        tensor(&io, "encoder_hidden_states", &device),
        Some(added),
    );
    assert!(taps.iter().any(|(n, _)| n == "add_embedding"));
    for (name, data) in &taps {
        assert_close(name, data, get(&io, &format!("tap.{name}")), F32_TOL);
    }
    assert_eq!(out.dims(), [2, 4, 12, 20]);
    assert_close("out", &out.to_data(), get(&io, "out"), F32_TOL);
}
