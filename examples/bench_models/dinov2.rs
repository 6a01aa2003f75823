//! `dinov2_s_*`: transformers `Dinov2Model` with the `facebook/dinov2-small` (ViT-S/14)
//! config, `pixel_values` [2, 3, 224, 224]; the 37×37 position table is bicubically
//! interpolated to 16×16 on every forward, as transformers does.

use adt::models::dinov2::{Dinov2Config, Dinov2Model, Layout, PosInterpolation};
use burn::prelude::*;

use crate::{Prepared, check_params, randn};

/// bench-cases.md: "parameters | 22,056,576" (position table and `mask_token` included).
const DINOV2_S_PARAMS: usize = 22_056_576;

/// `facebook/dinov2-small/config.json`.
pub fn vit_s14() -> Dinov2Config {
    Dinov2Config {
        hidden_size: 384,
        num_hidden_layers: 12,
        num_attention_heads: 6,
        mlp_ratio: 4.0,
        patch_size: 14,
        image_size: 518,
        num_channels: 3,
        layer_norm_eps: 1e-6,
        qkv_bias: true,
        layer_scale: true,
        layerscale_value: 1.0,
        use_swiglu_ffn: false,
        num_register_tokens: 0,
        use_mask_token: true,
        // transformers: bicubic, align_corners=False, no antialias.
        interpolation: PosInterpolation {
            antialias: false,
            offset: 0.0,
        },
        layout: Layout::Transformers,
    }
}

fn model(device: &Device) -> Dinov2Model {
    let model = Dinov2Model::new(&vit_s14(), device);
    check_params("dinov2_s", model.num_params(), DINOV2_S_PARAMS);
    model
}

/// Forward only, no autodiff; the output is `last_hidden_state` [2, 257, 384].
pub fn fwd(device: &Device) -> Prepared {
    let model = model(device);
    let x = randn([2, 3, 224, 224], device);
    Prepared {
        params: Some(DINOV2_S_PARAMS),
        step: Box::new(move || {
            let out = model.forward_features(x.clone(), &[]).expect("forward");
            Box::new(out.last_hidden_state)
        }),
    }
}

/// Frozen parameters, `mean(last_hidden_state)` backward, gradient w.r.t.
/// `pixel_values` only: a frozen DINOv2 discriminator backbone inside a generator step.
pub fn input_grad(device: &Device) -> Prepared {
    let ad = device.clone().autodiff();
    let model = model(&ad).no_grad();
    let x = randn([2, 3, 224, 224], &ad).require_grad();
    Prepared {
        params: Some(DINOV2_S_PARAMS),
        step: Box::new(move || {
            let out = model.forward_features(x.clone(), &[]).expect("forward");
            let grads = out.last_hidden_state.mean().backward();
            Box::new(x.grad(&grads).expect("gradient w.r.t. pixel_values"))
        }),
    }
}
