//! DINOv2 behind the engine's `Backbone` seam: the taps the engine receives are the
//! backbone's own features, the image gets gradients, and bad taps are refused.

use adt_dinov2::{BackboneConfig, Dinov2Backbone, Dinov2Model};
use adt_family::adapters::Dinov2Discriminator;
use adt_models_common::ModelSource;
use adt_plugin::traits::Backbone;
use burn::prelude::*;

fn backbone(dev: &Device) -> Dinov2Backbone {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dinov2/tests/fixtures/tiny");
    let model = Dinov2Model::from_pretrained(&ModelSource::Local(dir), dev).unwrap();
    let config = BackboneConfig {
        input_size: [20, 20],
        ..Default::default()
    };
    Dinov2Backbone::new(model, config).unwrap()
}

#[test]
fn engine_sees_the_backbone_features_and_the_image_gets_gradients() {
    let dev = Device::flex().autodiff();
    let bb = backbone(&dev);
    let layers = bb.model.config().num_hidden_layers;
    let taps = Dinov2Discriminator::default_taps(layers);
    assert_eq!(taps[0], 0);
    assert_eq!(*taps.last().unwrap(), layers);
    let disc = Dinov2Discriminator::new(bb.clone(), taps.clone()).unwrap();
    assert_eq!(disc.tap_channels(), vec![bb.hidden_size(); taps.len()]);

    let img = Tensor::<4>::random(
        [2, 3, 26, 30],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &dev,
    )
    .require_grad();
    let engine = Backbone::forward(&disc, img.clone());
    let direct = bb.features(img.clone(), &taps).unwrap();
    assert_eq!(engine.taps.len(), taps.len());
    for (e, d) in engine.taps.iter().zip(&direct.taps) {
        assert_eq!(e.tokens.clone().into_data(), d.patches.clone().into_data());
        assert_eq!(e.cls.clone().into_data(), d.cls.clone().into_data());
    }
    assert_eq!(engine.cls.dims(), [2, disc.embed_dim()]);
    let loss = engine.cls.sum() + engine.taps[1].tokens.clone().powf_scalar(2.0).mean();
    let grads = loss.backward();
    let g: f32 = img
        .grad(&grads)
        .expect("image gradient")
        .abs()
        .sum()
        .into_scalar();
    assert!(g > 0.0 && g.is_finite(), "image gradient {g}");
}

#[test]
fn taps_beyond_the_model_are_refused() {
    let dev = Device::flex();
    let bb = backbone(&dev);
    let layers = bb.model.config().num_hidden_layers;
    let err = Dinov2Discriminator::new(bb, vec![0, layers + 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("taps"), "{err}");
}
