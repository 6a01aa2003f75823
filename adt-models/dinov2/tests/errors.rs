//! Bad input gives a clear error naming what was wrong.

use crate::common;

use std::collections::BTreeMap;

use adt_dinov2::{Dinov2Error, Dinov2Model, OriginalVitConfig, forward_harness};
use adt_models_common::ModelSource;
use adt_models_common::tensor_io::{read_tensors, write_tensors};
use burn::prelude::*;
use common::*;

fn load(dir: &str) -> Dinov2Model {
    Dinov2Model::from_pretrained(&ModelSource::Local(fixture(dir)), &device()).unwrap()
}

fn input_err(r: Result<impl std::fmt::Debug, Dinov2Error>) -> String {
    match r {
        Err(e @ Dinov2Error::Input(_)) => e.to_string(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn unknown_variant_lists_the_known_ones() {
    let e = OriginalVitConfig::preset("dinov2_vitx14")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dinov2_vitx14") && e.contains("dinov2_vits14_reg"),
        "{e}"
    );
    for v in adt_dinov2::ORIGINAL_VARIANTS {
        OriginalVitConfig::preset(v).unwrap();
    }
    let g = OriginalVitConfig::preset("vitg14").unwrap();
    assert_eq!(
        (g.embed_dim, g.depth, g.num_heads, g.ffn_layer.as_str()),
        (1536, 40, 24, "swiglufused")
    );
    let g = g.to_config(std::path::Path::new("vitg14")).unwrap();
    assert_eq!(g.ffn_hidden_size(), 4096, "SwiGLU hidden width of ViT-g");
}

#[test]
fn non_rgb_and_too_small_images() {
    let m = load("tiny");
    let dev = device();
    let e = input_err(m.forward_features(Tensor::zeros([1, 1, 20, 20], &dev), &[]));
    assert!(e.contains("3 channels") && e.contains("got 1"), "{e}");
    let e = input_err(m.forward_features(Tensor::zeros([1, 3, 3, 20], &dev), &[]));
    assert!(
        e.contains("3x20") && e.contains("smaller than one 4x4 patch"),
        "{e}"
    );
    let e = input_err(m.forward_features(Tensor::zeros([1, 3, 20, 20], &dev), &[4]));
    assert!(e.contains("tap 4"), "{e}");
}

#[test]
fn original_layout_rejects_non_multiples_of_the_patch() {
    let m = load("tiny_original");
    let e = input_err(m.forward_features(Tensor::zeros([1, 3, 22, 20], &device()), &[]));
    assert!(
        e.contains("22x20") && e.contains("multiple of the patch size 4"),
        "{e}"
    );
}

#[test]
fn backbone_rejects_non_rgb() {
    let dev = device();
    let b = adt_dinov2::Dinov2Backbone::new(
        load("tiny"),
        adt_dinov2::BackboneConfig {
            input_size: [20, 20],
            ..Default::default()
        },
    )
    .unwrap();
    let e = input_err(b.features(Tensor::zeros([1, 4, 32, 32], &dev), &[1]));
    assert!(e.contains("RGB") && e.contains("4 channels"), "{e}");
    let e = adt_dinov2::Dinov2Backbone::new(
        load("tiny_original"),
        adt_dinov2::BackboneConfig {
            input_size: [22, 22],
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("multiple of the patch size"), "{e}");
}

/// Copy a fixture folder, let `edit` change its tensors, and try to load it.
fn load_edited(dir: &str, edit: impl FnOnce(&mut BTreeMap<String, TensorData>)) -> Dinov2Error {
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(fixture(dir)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.path().join(f.file_name())).unwrap();
    }
    let w = tmp.path().join("model.safetensors");
    let mut t = read_tensors(&w).unwrap();
    edit(&mut t);
    write_tensors(&w, &t).unwrap();
    Dinov2Model::from_pretrained(&ModelSource::Local(tmp.path().to_path_buf()), &device())
        .unwrap_err()
}

#[test]
fn wrong_key_or_shape_names_it() {
    let e = load_edited("tiny", |t| {
        let v = t.remove("encoder.layer.1.layer_scale2.lambda1").unwrap();
        t.insert("encoder.layer.1.layer_scale2.gamma".into(), v);
    })
    .to_string();
    assert!(
        e.contains("layer_scale2.gamma") || e.contains("layer_scale2.lambda1"),
        "{e}"
    );
    let e = load_edited("tiny", |t| {
        t.insert(
            "encoder.layer.0.attention.attention.query.weight".into(),
            TensorData::new(vec![0f32; 32 * 16], [16, 32]),
        );
    })
    .to_string();
    assert!(e.contains("query.weight") && e.contains("16"), "{e}");
    let e = load_edited("tiny_original", |t| {
        t.insert(
            "blocks.2.attn.qkv.weight".into(),
            TensorData::new(vec![0f32; 90 * 32], [90, 32]),
        );
    })
    .to_string();
    assert!(
        e.contains("blocks.2.attn.qkv.weight") && e.contains("[96, 32]"),
        "{e}"
    );
    let e = load_edited("tiny_original", |t| {
        t.insert(
            "blocks.0.attn.bogus".into(),
            TensorData::new(vec![0f32; 4], [4]),
        );
    })
    .to_string();
    assert!(e.contains("blocks.0.attn.bogus"), "{e}");
}

#[test]
fn bad_config_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("tiny/model.safetensors"),
        tmp.path().join("model.safetensors"),
    )
    .unwrap();
    let cfg = std::fs::read_to_string(fixture("tiny/config.json")).unwrap();
    std::fs::write(
        tmp.path().join("config.json"),
        cfg.replace("\"gelu\"", "\"relu\""),
    )
    .unwrap();
    let e = Dinov2Model::from_pretrained(&ModelSource::Local(tmp.path().to_path_buf()), &device())
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json") && e.contains("relu"), "{e}");
    std::fs::write(
        tmp.path().join("config.json"),
        cfg.replace("\"dinov2\"", "\"vit\""),
    )
    .unwrap();
    let e = Dinov2Model::from_pretrained(&ModelSource::Local(tmp.path().to_path_buf()), &device())
        .unwrap_err()
        .to_string();
    assert!(e.contains("model_type `vit`"), "{e}");
    let e = Dinov2Model::from_pretrained(&ModelSource::Local(tmp.path().join("nope")), &device())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn harness_maps_pixel_values_to_transformers_names() {
    let cases = cases("tiny");
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "pixel_values".to_string(),
        get(&cases, "larger.pixel_values").clone(),
    );
    let out = forward_harness(&fixture("tiny"), &inputs).unwrap();
    let mut keys: Vec<&str> = out.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "hidden_states.0",
            "hidden_states.1",
            "hidden_states.2",
            "hidden_states.3",
            "last_hidden_state",
            "pooler_output"
        ]
    );
    for k in keys {
        adt_models_common::testing::assert_close(
            &format!("harness/{k}"),
            &out[k],
            get(&cases, &format!("larger.{k}")),
            TOL_F32,
        );
    }
    let mut bad = BTreeMap::new();
    bad.insert(
        "images".to_string(),
        get(&cases, "larger.pixel_values").clone(),
    );
    let e = forward_harness(&fixture("tiny"), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pixel_values") && e.contains("images"), "{e}");
}
