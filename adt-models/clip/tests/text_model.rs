//! Parity of the CLIP text encoder with transformers (fixtures from
//! scripts/fixtures/clip.py) and its loading / error behaviour.

use crate::common;

use std::collections::BTreeMap;

use adt_clip::{
    ClipError, ClipTextConfig, ClipTextModel, ClipTextOutput, SD1_SINGLE_FILE_REMAP,
    text_model::{Pooling, pooled_positions},
};
use adt_models_common::tensor_io::read_tensors;
use adt_models_common::testing::assert_close;
use adt_models_common::{LoadError, ModelSource};
use burn::prelude::*;
use burn::tensor::TensorData;

/// f32 forward of a 2–3 layer encoder vs PyTorch (CPU, float32).
const PARITY_TOL: f32 = 1e-4;

fn device() -> Device {
    Device::flex()
}

fn load_io(name: &str) -> BTreeMap<String, TensorData> {
    read_tensors(&common::fixtures().join(name)).unwrap()
}

fn ids_tensor(io: &BTreeMap<String, TensorData>, device: &Device) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(io["input_ids"].clone().convert::<i64>(), device)
}

fn check_outputs(model: &str, out: &ClipTextOutput, io: &BTreeMap<String, TensorData>) {
    assert_close(
        &format!("{model}.last_hidden_state"),
        &out.last_hidden_state.to_data(),
        &io["last_hidden_state"],
        PARITY_TOL,
    );
    assert_close(
        &format!("{model}.pooler_output"),
        &out.pooler_output.to_data(),
        &io["pooler_output"],
        PARITY_TOL,
    );
    let n_hidden = io
        .keys()
        .filter(|k| k.starts_with("hidden_states."))
        .count();
    assert_eq!(out.hidden_states.len(), n_hidden, "number of hidden states");
    for (i, h) in out.hidden_states.iter().enumerate() {
        assert_close(
            &format!("{model}.hidden_states[{i}]"),
            &h.to_data(),
            &io[&format!("hidden_states.{i}")],
            PARITY_TOL,
        );
    }
    match (&out.text_embeds, io.get("text_embeds")) {
        (Some(t), Some(e)) => {
            assert_close(&format!("{model}.text_embeds"), &t.to_data(), e, PARITY_TOL);
        }
        (None, None) => {}
        (a, e) => panic!(
            "text_embeds present: model {}, reference {}",
            a.is_some(),
            e.is_some()
        ),
    }
}

#[test]
fn clip_text_model_matches_transformers() {
    // quick_gelu, legacy eos_token_id 2 (pool at argmax id, ties included), and a
    // checkpoint that still carries the `position_ids` buffer.
    let device = device();
    let source = ModelSource::Local(common::fixtures());
    let model = ClipTextModel::from_pretrained(&source, "text_model", &device).unwrap();
    assert!(model.text_projection.is_none());
    assert_eq!(model.text_model.pooling(), Pooling::ArgmaxId);
    let io = load_io("text_model_io.safetensors");
    let out = model.forward(ids_tensor(&io, &device));
    check_outputs("text_model", &out, &io);
}

#[test]
fn clip_text_model_with_projection_matches_transformers() {
    // gelu (SDXL-style), pooling at the first eos: eos-padded, "!"-padded, eos
    // last, and no eos at all (position 0).
    let device = device();
    let source = ModelSource::Local(common::fixtures());
    let model = ClipTextModel::from_pretrained(&source, "text_model_proj", &device).unwrap();
    assert!(model.text_projection.is_some());
    assert_eq!(model.text_model.pooling(), Pooling::FirstEos(98));
    let io = load_io("text_model_proj_io.safetensors");
    let out = model.forward(ids_tensor(&io, &device));
    check_outputs("text_model_proj", &out, &io);
}

#[test]
fn pooled_positions_follow_transformers_rules() {
    let device = device();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::from([[5i64, 9, 3, 9, 1], [7, 7, 7, 7, 7], [1, 2, 3, 4, 0]]),
        &device,
    );
    let argmax = pooled_positions(ids.clone(), Pooling::ArgmaxId).to_data();
    assert_eq!(
        argmax.convert::<i64>().try_to_vec::<i64>().unwrap(),
        vec![1, 0, 3]
    );
    let first = pooled_positions(ids, Pooling::FirstEos(7)).to_data();
    // row 0 has no 7 -> 0; row 1 all 7 -> 0; row 2 none -> 0
    assert_eq!(
        first.convert::<i64>().try_to_vec::<i64>().unwrap(),
        vec![0, 0, 0]
    );
    let ids = Tensor::<2, Int>::from_data(
        TensorData::from([[0i64, 1, 9, 2, 9], [9, 0, 0, 0, 0]]),
        &device,
    );
    let first = pooled_positions(ids, Pooling::FirstEos(9)).to_data();
    assert_eq!(
        first.convert::<i64>().try_to_vec::<i64>().unwrap(),
        vec![2, 0]
    );
}

#[test]
fn sd1_single_file_layout_loads() {
    let device = device();
    let dir = common::fixtures();
    let config = ClipTextConfig::from_file(&dir.join("text_model/config.json")).unwrap();
    let model = ClipTextModel::from_single_file(
        &dir.join("single_file.safetensors"),
        &config,
        SD1_SINGLE_FILE_REMAP,
        &device,
    )
    .unwrap();
    let io = load_io("text_model_io.safetensors");
    let out = model.forward(ids_tensor(&io, &device));
    check_outputs("single_file", &out, &io);
}

#[test]
fn position_ids_are_only_ignored_explicitly() {
    let device = device();
    let dir = common::fixtures();
    let config = ClipTextConfig::from_file(&dir.join("text_model/config.json")).unwrap();
    let err = ClipTextModel::new(&config, false, &device)
        .unwrap()
        .load_weights(&[dir.join("text_model/model.safetensors")], &[], &[])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ClipError::Load(LoadError::UnusedKeys { .. }))
            && msg.contains("position_ids"),
        "{msg}"
    );
}

#[test]
fn missing_projection_weight_is_reported() {
    let device = device();
    let dir = common::fixtures();
    let config = ClipTextConfig::from_file(&dir.join("text_model/config.json")).unwrap();
    let err = ClipTextModel::new(&config, true, &device)
        .unwrap()
        .load_weights(
            &[dir.join("text_model/model.safetensors")],
            &[],
            adt_clip::IGNORED_KEYS,
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("text_projection") && msg.contains("model.safetensors"),
        "{msg}"
    );
}

#[test]
fn wrong_shape_is_reported_with_key() {
    let device = device();
    let dir = common::fixtures();
    let mut config = ClipTextConfig::from_file(&dir.join("text_model/config.json")).unwrap();
    config.intermediate_size += 1;
    let err = ClipTextModel::new(&config, false, &device)
        .unwrap()
        .load_weights(
            &[dir.join("text_model/model.safetensors")],
            &[],
            adt_clip::IGNORED_KEYS,
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("fc1") && msg.contains("model.safetensors"),
        "{msg}"
    );
}

#[test]
fn unknown_hidden_act_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("text_encoder");
    std::fs::create_dir(&sub).unwrap();
    let text = std::fs::read_to_string(common::fixtures().join("text_model/config.json")).unwrap();
    std::fs::write(
        sub.join("config.json"),
        text.replace("quick_gelu", "swiglu"),
    )
    .unwrap();
    let err = ClipTextModel::from_pretrained(
        &ModelSource::Local(dir.path().into()),
        "text_encoder",
        &device(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("hidden_act") && msg.contains("swiglu") && msg.contains("config.json"),
        "{msg}"
    );
}

#[test]
fn missing_weights_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("text_encoder");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        common::fixtures().join("text_model/config.json"),
        sub.join("config.json"),
    )
    .unwrap();
    let err = ClipTextModel::from_pretrained(
        &ModelSource::Local(dir.path().into()),
        "text_encoder",
        &device(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn too_long_sequence_is_an_error() {
    let device = device();
    let source = ModelSource::Local(common::fixtures());
    let model = ClipTextModel::from_pretrained(&source, "text_model", &device).unwrap();
    let ids = Tensor::<2, Int>::zeros([1, model.max_positions() + 1], &device);
    let err = model.try_forward(ids).expect_err("too long must fail");
    assert!(err.to_string().contains("max_position_embeddings"), "{err}");
}

#[test]
fn gradients_reach_every_layer() {
    // Trainable use: build on an autodiff device and backprop from the pooled output.
    let device = Device::flex().autodiff();
    let source = ModelSource::Local(common::fixtures());
    let model = ClipTextModel::from_pretrained(&source, "text_model_proj", &device).unwrap();
    let io = load_io("text_model_proj_io.safetensors");
    let out = model.forward(ids_tensor(&io, &device));
    let loss =
        out.text_embeds.unwrap().powf_scalar(2.0).sum() + out.hidden_states[1].clone().mean();
    let grads = loss.backward();
    let checks = [
        (
            "token_embedding",
            model
                .text_model
                .embeddings
                .token_embedding
                .weight
                .val()
                .grad(&grads),
        ),
        (
            "layer0.q_proj",
            model.text_model.encoder.layers[0]
                .self_attn
                .q_proj
                .weight
                .val()
                .grad(&grads),
        ),
        (
            "layer1.fc2",
            model.text_model.encoder.layers[1]
                .mlp
                .fc2
                .weight
                .val()
                .grad(&grads),
        ),
        (
            "text_projection",
            model
                .text_projection
                .as_ref()
                .unwrap()
                .weight
                .val()
                .grad(&grads),
        ),
    ];
    for (name, g) in checks {
        let g = g.unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm: f32 = g.powf_scalar(2.0).sum().into_scalar();
        assert!(
            norm.is_finite() && norm > 0.0,
            "{name}: gradient norm {norm}"
        );
    }
}
