//! Bad input fails with an error naming the file and the key/field, never a panic.

use crate::common;

use std::path::{Path, PathBuf};

use adt_diffusion::{AutoencoderKL, UNet2DConditionModel};
use adt_models_common::tensor_io::{read_tensors, write_tensors};
use adt_models_common::{LoadError, ModelSource};
use burn::prelude::*;
use common::*;

const WEIGHTS: &str = "diffusion_pytorch_model.safetensors";

/// A copy of the SD1.5 fixture UNet folder in a temp dir: `<tmp>/unet/{config.json, weights}`.
fn copy_unet() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let unet = dir.path().join("unet");
    std::fs::create_dir_all(&unet).unwrap();
    for f in ["config.json", WEIGHTS] {
        std::fs::copy(fixtures().join("sd15_tiny/unet").join(f), unet.join(f)).unwrap();
    }
    (dir, unet)
}

fn load(root: &Path) -> Result<UNet2DConditionModel, LoadError> {
    UNet2DConditionModel::from_pretrained(
        &ModelSource::Local(root.to_path_buf()),
        "unet",
        &device(),
    )
}

fn edit_weights(unet: &Path, f: impl FnOnce(&mut std::collections::BTreeMap<String, TensorData>)) {
    let path = unet.join(WEIGHTS);
    let mut t = read_tensors(&path).unwrap();
    f(&mut t);
    write_tensors(&path, &t).unwrap();
}

fn edit_config(unet: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = unet.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

fn message(r: Result<UNet2DConditionModel, LoadError>) -> (LoadError, String) {
    let e = r.expect_err("loading must fail");
    let m = e.to_string();
    println!("{m}");
    (e, m)
}

#[test]
fn missing_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::Missing { .. }));
    assert!(m.contains("unet/config.json"), "{m}");
}

#[test]
fn missing_weights_name_the_candidates() {
    let (dir, unet) = copy_unet();
    std::fs::remove_file(unet.join(WEIGHTS)).unwrap();
    let (_, m) = message(load(dir.path()));
    assert!(m.contains(WEIGHTS) && m.contains("fp16"), "{m}");
}

#[test]
fn unknown_block_type_names_file_field_and_value() {
    let (dir, unet) = copy_unet();
    edit_config(&unet, |v| {
        v["down_block_types"][1] = "FancyDownBlock2D".into()
    });
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::Config { .. }));
    assert!(
        m.contains("config.json")
            && m.contains("down_block_types")
            && m.contains("FancyDownBlock2D"),
        "{m}"
    );
}

#[test]
fn unsupported_option_value_is_rejected() {
    let (dir, unet) = copy_unet();
    edit_config(&unet, |v| v["addition_embed_type"] = "image".into());
    let (_, m) = message(load(dir.path()));
    assert!(
        m.contains("addition_embed_type") && m.contains("image"),
        "{m}"
    );
    let (dir, unet) = copy_unet();
    edit_config(&unet, |v| v["layers_per_block"] = "two".into());
    let (_, m) = message(load(dir.path()));
    assert!(m.contains("config.json"), "{m}");
}

#[test]
fn missing_key_is_named() {
    let (dir, unet) = copy_unet();
    edit_weights(&unet, |t| {
        t.remove("down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    });
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::MissingKeys { .. }));
    assert!(
        m.contains("attn2.to_k.weight") && m.contains(WEIGHTS),
        "{m}"
    );
}

#[test]
fn unused_key_is_named() {
    let (dir, unet) = copy_unet();
    edit_weights(&unet, |t| {
        t.insert(
            "down_blocks.0.extra_gate.weight".into(),
            TensorData::new(vec![1.0f32; 4], [4]),
        );
    });
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::UnusedKeys { .. }));
    assert!(m.contains("down_blocks.0.extra_gate.weight"), "{m}");
}

#[test]
fn shape_mismatch_names_file_key_and_shapes() {
    let (dir, unet) = copy_unet();
    edit_weights(&unet, |t| {
        t.insert(
            "conv_out.bias".into(),
            TensorData::new(vec![0.0f32; 5], [5]),
        );
    });
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::Shape { .. }), "{e:?}");
    assert!(
        m.contains("conv_out.bias") && m.contains(WEIGHTS) && m.contains('5'),
        "{m}"
    );
}

#[test]
fn corrupt_header_names_the_file() {
    let (dir, unet) = copy_unet();
    std::fs::write(
        unet.join(WEIGHTS),
        b"\xff\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    let (e, m) = message(load(dir.path()));
    assert!(matches!(e, LoadError::Safetensors { .. }), "{e:?}");
    assert!(m.contains(WEIGHTS), "{m}");
}

#[test]
fn single_file_without_a_vae_is_an_error() {
    let config =
        adt_models_common::read_config(&fixtures().join("sd15_tiny/vae/config.json")).unwrap();
    let path = fixtures().join("sd15_tiny/unet").join(WEIGHTS);
    let e = AutoencoderKL::from_single_file(&path, &config, &device())
        .expect_err("no first_stage_model.* keys");
    assert!(e.to_string().contains("first_stage_model"), "{e}");
}
