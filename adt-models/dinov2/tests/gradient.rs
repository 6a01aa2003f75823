//! Gradients w.r.t. the input image against PyTorch, and the frozen backbone:
//! parameters bit-identical and gradient-free after a backward pass.

use crate::common;

use adt_dinov2::{BackboneConfig, Dinov2Backbone, Dinov2Model, ResizeMode};
use adt_models_common::ModelSource;
use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use common::*;

/// Input gradients are sums over many tokens; f32 accumulation-order noise.
const TOL_GRAD: f32 = 1e-4;

fn ad_device() -> Device {
    Device::flex().autodiff()
}

fn load(dir: &str, dev: &Device) -> Dinov2Model {
    Dinov2Model::from_pretrained(&ModelSource::Local(fixture(dir)), dev).unwrap()
}

#[test]
fn input_gradient_matches_pytorch() {
    let dev = ad_device();
    let model = load("tiny", &dev).no_grad();
    let cases = cases("tiny");
    let x: Tensor<4> = tensor::<4>(get(&cases, "grad.pixel_values"), &dev).require_grad();
    let r: Tensor<3> = tensor(get(&cases, "grad.weights"), &dev);
    let y = model
        .forward_features(x.clone(), &[])
        .unwrap()
        .last_hidden_state;
    close(
        "grad/last_hidden_state",
        &y,
        get(&cases, "grad.last_hidden_state"),
        TOL_F32,
    );
    let grads = (y * r).sum().backward();
    let g = x.grad(&grads).expect("gradient reaches the input");
    close(
        "grad/d pixel_values",
        &g,
        get(&cases, "grad.grad"),
        TOL_GRAD,
    );
}

#[test]
fn backbone_features_and_image_gradient_match_pytorch() {
    let dev = ad_device();
    let refs =
        adt_models_common::tensor_io::read_tensors(&fixture("backbone.safetensors")).unwrap();
    let config = BackboneConfig {
        input_size: [20, 20],
        resize: ResizeMode::Bilinear,
        antialias: false,
    };
    let backbone = Dinov2Backbone::new(load("tiny", &dev), config).unwrap();
    let img: Tensor<4> = tensor::<4>(get(&refs, "image"), &dev).require_grad();
    let f = backbone.features(img.clone(), &[1, 3]).unwrap();
    let full = |t: &adt_dinov2::TapFeatures| {
        Tensor::cat(
            vec![t.cls.clone().unsqueeze_dim::<3>(1), t.patches.clone()],
            1,
        )
    };
    let tap1 = full(&f.taps[0]);
    let tap3 = full(&f.taps[1]);
    close("backbone/tap.1", &tap1, get(&refs, "tap.1"), TOL_F32);
    close("backbone/tap.3", &tap3, get(&refs, "tap.3"), TOL_F32);
    close("backbone/cls", &f.cls, get(&refs, "cls"), TOL_F32);
    let w1: Tensor<3> = tensor(get(&refs, "weights.tap.1"), &dev);
    let w3: Tensor<3> = tensor(get(&refs, "weights.tap.3"), &dev);
    let wc: Tensor<2> = tensor(get(&refs, "weights.cls"), &dev);
    let loss = (tap1 * w1).sum() + (tap3 * w3).sum() + (f.cls * wc).sum();
    let grads = loss.backward();
    let g = img.grad(&grads).expect("gradient reaches the image");
    close("backbone/d image", &g, get(&refs, "grad"), TOL_GRAD);
}

/// Collects every float parameter's values and whether it has a gradient.
struct Snapshot<'a> {
    values: Vec<Vec<f32>>,
    with_grad: usize,
    grads: Option<&'a burn::tensor::Gradients>,
}

impl ModuleVisitor for Snapshot<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let t = p.val();
        if let Some(g) = self.grads
            && t.grad(g).is_some()
        {
            self.with_grad += 1;
        }
        self.values.push(t.to_data().try_to_vec::<f32>().unwrap());
    }
}

#[test]
fn frozen_parameters_stay_bit_identical_while_the_image_gets_gradients() {
    let dev = ad_device();
    let backbone = Dinov2Backbone::new(
        load("tiny", &dev),
        BackboneConfig {
            input_size: [20, 20],
            ..Default::default()
        },
    )
    .unwrap();
    let mut before = Snapshot {
        values: vec![],
        with_grad: 0,
        grads: None,
    };
    backbone.visit(&mut before);
    assert!(before.values.len() > 20);

    let img = Tensor::<4>::random(
        [2, 3, 28, 24],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &dev,
    )
    .require_grad();
    let f = backbone.features(img.clone(), &[0, 2]).unwrap();
    let loss = f.cls.sum()
        + f.patches.powf_scalar(2.0).mean()
        + f.taps[0].patches.clone().sum()
        + f.taps[1].cls.clone().sum();
    let grads = loss.backward();
    let g = img.grad(&grads).expect("image gradient");
    let gsum: f32 = g.abs().sum().into_scalar();
    assert!(
        gsum > 0.0 && gsum.is_finite(),
        "image gradient is zero or not finite: {gsum}"
    );

    let mut after = Snapshot {
        values: vec![],
        with_grad: 0,
        grads: Some(&grads),
    };
    backbone.visit(&mut after);
    assert_eq!(after.with_grad, 0, "frozen parameters received gradients");
    assert_eq!(before.values.len(), after.values.len());
    for (i, (a, b)) in before.values.iter().zip(&after.values).enumerate() {
        let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "parameter #{i} changed");
    }
}
