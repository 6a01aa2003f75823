//! SD3's third text encoder against transformers: the T5 v1.1 encoder (gated GELU, relative
//! position buckets past `relative_attention_max_distance`, with and without an attention
//! mask) from SD3's sharded f16 `text_encoder_3`, its fp8 (E4M3) single-file form, and
//! `T5TokenizerFast` ids (normalisation, truncation keeping `</s>`, padding).

use adt_models_common::ModelSource;
use adt_models_common::testing::assert_close;
use adt_t5::{T5EncoderModel, T5Tokenizer, relative_position_bucket};
use burn::prelude::*;

use crate::common::*;

/// Block outputs, relative to their largest magnitude: 4× transformers' own f32 error
/// against float64 on this fixture (2.5e-6 relative; ours and theirs add up).
const STREAM_REL_TOL: f32 = 1e-5;

fn encoder(device: &Device) -> T5EncoderModel {
    T5EncoderModel::from_pretrained(
        &ModelSource::Local(fixtures().join("tiny_sd3")),
        "text_encoder_3",
        device,
    )
    .unwrap()
}

#[test]
fn t5_encoder_from_sharded_f16_matches_transformers_with_and_without_mask() {
    let device = Device::flex();
    let t5 = encoder(&device);
    let io = io();
    let input = ids(&io, "t5.input_ids", &device);
    assert!(input.dims()[1] > 2 * t5.config().relative_attention_max_distance);
    for (case, mask) in [
        ("unmasked", None),
        (
            "masked",
            Some(tensor::<2>(&io, "t5.attention_mask", &device)),
        ),
    ] {
        let out = t5.try_forward(input.clone(), mask).unwrap();
        // The model's output (after `final_layer_norm`): the per-model f32 bound.
        assert_close(
            &format!("t5 {case} last_hidden_state"),
            &out.last_hidden_state.to_data(),
            get(&io, &format!("t5.{case}.last_hidden_state")),
            F32_TOL,
        );
        // The residual stream between blocks grows to |x| ≈ 47 in this fixture, where
        // transformers' own f32 result is up to 1.1e-4 from its float64 result (block 1
        // masked, |x| 43.8, measured with `T5EncoderModel(dtype=float64)`): each block is
        // held to STREAM_REL_TOL of its scale instead.
        for (i, h) in out.hidden_states[1..].iter().enumerate() {
            let reference = get(&io, &format!("t5.{case}.block.{i}"));
            let scale = reference.iter::<f32>().map(f32::abs).fold(1.0, f32::max);
            assert_close(
                &format!("t5 {case} block {i}"),
                &h.to_data(),
                reference,
                STREAM_REL_TOL * scale,
            );
        }
    }
}

#[test]
fn t5_fp8_single_file_matches_transformers_on_the_fp8_rounded_weights() {
    let device = Device::flex();
    let config = encoder(&device).config().clone();
    let t5 = T5EncoderModel::from_single_file(
        &fixtures().join("t5_fp8.safetensors"),
        "text_encoders.t5xxl.transformer.",
        &config,
        &device,
    )
    .unwrap();
    let io = io();
    let out = t5.forward(ids(&io, "t5_fp8.input_ids", &device), None);
    assert_close(
        "t5 fp8 last_hidden_state",
        &out.last_hidden_state.to_data(),
        get(&io, "t5_fp8.last_hidden_state"),
        F32_TOL,
    );
}

#[test]
fn t5_tokenizer_ids_match_transformers() {
    #[derive(serde::Deserialize)]
    struct Tokens {
        prompts: Vec<String>,
        max_length: usize,
        input_ids: Vec<Vec<u32>>,
        attention_mask: Vec<Vec<u32>>,
        untruncated: Vec<Vec<u32>>,
    }
    let text = std::fs::read_to_string(fixtures().join("t5_tokens.json")).unwrap();
    let want: Tokens = serde_json::from_str(&text).unwrap();
    let tok = T5Tokenizer::from_file(&fixtures().join("t5_tokenizer/tokenizer.json")).unwrap();
    let got = tok.encode_batch(&want.prompts, want.max_length).unwrap();
    assert_eq!(got.ids, want.input_ids);
    assert_eq!(got.attention_mask, want.attention_mask);
    let cut: Vec<usize> = (0..want.prompts.len())
        .filter(|&i| want.untruncated[i].len() > want.max_length)
        .collect();
    assert!(
        !cut.is_empty(),
        "the fixture must have a prompt longer than max_length"
    );
    assert_eq!(got.truncated, cut);
    // Untruncated, the ids are transformers' too.
    let long = tok.encode_batch(&want.prompts, 512).unwrap();
    for (i, ids) in want.untruncated.iter().enumerate() {
        assert_eq!(
            &long.ids[i][..ids.len()],
            &ids[..],
            "prompt {i} untruncated"
        );
    }
}

#[test]
fn relative_position_buckets_match_transformers() {
    // transformers `_relative_position_bucket(bidirectional=True, num_buckets=32,
    // max_distance=128)` for these relative positions (memory − query).
    let cases = [
        (-200, 15),
        (-128, 15),
        (-20, 10),
        (-8, 8),
        (-1, 1),
        (0, 0),
        (1, 17),
        (7, 23),
        (8, 24),
        (20, 26),
        (127, 31),
        (500, 31),
    ];
    for (rel, want) in cases {
        assert_eq!(
            relative_position_bucket(rel, 32, 128),
            want,
            "relative position {rel}"
        );
    }
}

#[test]
fn t5_bad_inputs_are_named() {
    let device = Device::flex();
    let t5 = encoder(&device);
    let vocab = t5.config().vocab_size as i64;
    let bad = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, vocab], [1, 2]), &device);
    let err = t5.try_forward(bad, None).unwrap_err().to_string();
    assert!(
        err.contains(&vocab.to_string()) && err.contains("vocab"),
        "{err}"
    );
    // A config with an unknown feed-forward kind.
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        std::fs::read_to_string(fixtures().join("tiny_sd3/text_encoder_3/config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        cfg.replace("gated-gelu", "gated-swish"),
    )
    .unwrap();
    let err = T5EncoderModel::from_pretrained(&ModelSource::Local(dir.path().into()), "", &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("feed_forward_proj") && err.contains("gated-swish"),
        "{err}"
    );
    // A max distance inside the exact buckets (num_buckets / 4 = 8) would give negative ids.
    std::fs::write(
        dir.path().join("config.json"),
        cfg.replace(
            "\"relative_attention_max_distance\": 16",
            "\"relative_attention_max_distance\": 8",
        ),
    )
    .unwrap();
    let err = T5EncoderModel::from_pretrained(&ModelSource::Local(dir.path().into()), "", &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("relative_attention_max_distance"), "{err}");
    // A missing tokenizer file.
    let err = T5Tokenizer::from_file(&dir.path().join("tokenizer.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}
