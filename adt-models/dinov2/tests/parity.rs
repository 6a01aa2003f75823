//! Parity with transformers (and the original repository's interpolation) per
//! block and end to end, at the native size, larger, smaller, non-square and
//! non-multiple-of-patch sizes.

use crate::common;

use std::collections::BTreeMap;

use adt_dinov2::{Dinov2Model, Layout};
use adt_models_common::ModelSource;
use burn::prelude::*;
use common::*;

fn load(dir: &str) -> Dinov2Model {
    Dinov2Model::from_pretrained(&ModelSource::Local(fixture(dir)), &device())
        .unwrap_or_else(|e| panic!("loading {dir}: {e}"))
}

/// Embeddings, every block fed the reference input of that block, and the whole
/// model end to end, for every case in the fixture.
fn check_model(
    label: &str,
    model: &Dinov2Model,
    cases: &BTreeMap<String, TensorData>,
    names: &[String],
) {
    let dev = device();
    let layers = model.config().num_hidden_layers;
    assert!(!names.is_empty(), "{label}: no cases");
    for case in names {
        let x: Tensor<4> = tensor(get(cases, &format!("{case}.pixel_values")), &dev);
        // Embeddings (patch conv + interpolated positions + registers).
        let emb = model.embeddings.forward(x.clone()).expect("embeddings");
        close(
            &format!("{label}/{case}/embeddings"),
            &emb,
            get(cases, &format!("{case}.hidden_states.0")),
            TOL_F32,
        );
        // Each block in isolation.
        for i in 0..layers {
            let input: Tensor<3> = tensor(get(cases, &format!("{case}.hidden_states.{i}")), &dev);
            let out = model.encoder.layer[i].forward(input);
            let want = get(cases, &format!("{case}.hidden_states.{}", i + 1));
            close(&format!("{label}/{case}/block{i}"), &out, want, TOL_F32);
        }
        // End to end.
        let out = model.forward_all_hidden_states(x).expect("forward");
        close(
            &format!("{label}/{case}/last_hidden_state"),
            &out.last_hidden_state,
            get(cases, &format!("{case}.last_hidden_state")),
            TOL_F32,
        );
        close(
            &format!("{label}/{case}/pooler_output"),
            &out.pooler_output,
            get(cases, &format!("{case}.pooler_output")),
            TOL_F32,
        );
        for (i, h) in out.taps.iter().enumerate() {
            close(
                &format!("{label}/{case}/hidden_states.{i}"),
                h,
                get(cases, &format!("{case}.hidden_states.{i}")),
                TOL_F32,
            );
        }
    }
}

#[test]
fn transformers_mlp_all_sizes() {
    let model = load("tiny");
    let cases = cases("tiny");
    let names = case_names(&cases);
    for want in [
        "native",
        "larger",
        "smaller",
        "nonsquare",
        "same_count",
        "non_multiple",
    ] {
        assert!(names.iter().any(|n| n == want), "case {want} missing");
    }
    check_model("tiny", &model, &cases, &names);
}

#[test]
fn transformers_swiglu() {
    let model = load("tiny_swiglu");
    assert!(model.config().use_swiglu_ffn);
    let cases = cases("tiny_swiglu");
    check_model("tiny_swiglu", &model, &cases, &case_names(&cases));
}

#[test]
fn transformers_registers_antialiased_interpolation() {
    let model = load("tiny_registers");
    assert_eq!(model.config().num_register_tokens, 2);
    assert!(model.config().interpolation.antialias);
    let cases = cases("tiny_registers");
    check_model("tiny_registers", &model, &cases, &case_names(&cases));
}

#[test]
fn original_layout_offset_interpolation() {
    let model = load("tiny_original");
    assert_eq!(model.config().layout, Layout::Original);
    assert_eq!(model.config().interpolation.offset, 0.1);
    let cases = cases("tiny_original");
    let names = case_names(&cases);
    assert!(names.iter().any(|n| n == "larger") && names.iter().any(|n| n == "smaller"));
    check_model("tiny_original", &model, &cases, &names);
}

#[test]
fn original_layout_registers() {
    // The script asserts that the original registers semantics (antialias, offset 0)
    // equal transformers' on these weights, so the reference is tiny_registers.
    let model = load("tiny_original_reg");
    let cases = cases("tiny_registers");
    let names: Vec<String> = case_names(&cases)
        .into_iter()
        .filter(|n| n != "non_multiple")
        .collect();
    check_model("tiny_original_reg", &model, &cases, &names);
}

#[test]
fn original_and_transformers_weights_are_the_same_model() {
    // tiny_original holds tiny's weights: at the native size (no interpolation)
    // both layouts must give the same tokens, proving the qkv split and key table.
    let a = load("tiny");
    let b = load("tiny_original");
    let cases = cases("tiny");
    let x: Tensor<4> = tensor(get(&cases, "native.pixel_values"), &device());
    let ya = a
        .forward_features(x.clone(), &[])
        .unwrap()
        .last_hidden_state;
    let yb = b.forward_features(x, &[]).unwrap().last_hidden_state;
    close("tiny vs tiny_original (native)", &yb, &ya.to_data(), 1e-6);
}
