//! `adt forward` reproduces the committed parity fixtures of every zoo model.
//!
//! Each case takes a fixture made by `scripts/fixtures/*.py` with diffusers or
//! transformers, writes the reference inputs under the harness's argument names,
//! runs the real `adt` binary, and compares every output with the reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use adt::models::common::tensor_io::{read_tensors, write_tensors};
use adt::models::common::testing::assert_close;
use burn::tensor::TensorData;

/// f32 reference vs f32 port; see docs/architecture.md for why 1e-4 is sound.
const TOL: f32 = 1e-4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `adt forward KIND` on `inputs` and return its outputs.
fn run(
    kind: &str,
    model: &Path,
    inputs: BTreeMap<String, TensorData>,
) -> BTreeMap<String, TensorData> {
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (
        dir.path().join("in.safetensors"),
        dir.path().join("out.safetensors"),
    );
    write_tensors(&inp, &inputs).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_adt"))
        .args(["forward", kind, "--model"])
        .arg(model)
        .arg("--inputs")
        .arg(&inp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "adt forward {kind} failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    read_tensors(&out).unwrap()
}

fn pick(io: &BTreeMap<String, TensorData>, pairs: &[(&str, &str)]) -> BTreeMap<String, TensorData> {
    pairs
        .iter()
        .map(|(from, to)| (to.to_string(), io[*from].clone()))
        .collect()
}

#[test]
fn unet_sd15_non_square() {
    let fx = root().join("adt-models/diffusion/tests/fixtures");
    let io = read_tensors(&fx.join("sd15_tiny_unet_io.safetensors")).unwrap();
    let inputs = pick(
        &io,
        &[
            ("sample", "sample"),
            ("timesteps", "timestep"),
            ("encoder_hidden_states", "encoder_hidden_states"),
        ],
    );
    let out = run("unet", &fx.join("sd15_tiny/unet"), inputs);
    assert_close("unet sd15 sample", &out["sample"], &io["out"], TOL);
}

#[test]
fn unet_sdxl_text_time_f16_weights() {
    let fx = root().join("adt-models/diffusion/tests/fixtures");
    let io = read_tensors(&fx.join("sdxl_tiny_unet_io.safetensors")).unwrap();
    let inputs = pick(
        &io,
        &[
            ("sample", "sample"),
            ("timesteps", "timestep"),
            ("encoder_hidden_states", "encoder_hidden_states"),
            ("text_embeds", "text_embeds"),
            ("time_ids", "time_ids"),
        ],
    );
    let out = run("unet", &fx.join("sdxl_tiny/unet"), inputs);
    assert_close("unet sdxl sample", &out["sample"], &io["out"], TOL);
}

#[test]
fn vae_encode_and_decode() {
    let fx = root().join("adt-models/diffusion/tests/fixtures");
    let io = read_tensors(&fx.join("sd15_tiny_vae_io.safetensors")).unwrap();
    let model = fx.join("sd15_tiny/vae");
    let enc = run("vae-encode", &model, pick(&io, &[("x", "image")]));
    assert_close(
        "vae posterior_mean",
        &enc["posterior_mean"],
        &io["posterior.mean"],
        TOL,
    );
    assert_close(
        "vae posterior_logvar",
        &enc["posterior_logvar"],
        &io["posterior.logvar"],
        TOL,
    );
    let dec = run("vae-decode", &model, pick(&io, &[("z", "latents")]));
    assert_close("vae decoded", &dec["decoded"], &io["decoded"], TOL);
}

#[test]
fn clip_text_with_and_without_projection() {
    let fx = root().join("adt-models/clip/tests/fixtures");
    for (model, file) in [
        ("text_model", "text_model_io"),
        ("text_model_proj", "text_model_proj_io"),
    ] {
        let io = read_tensors(&fx.join(format!("{file}.safetensors"))).unwrap();
        let out = run(
            "clip-text",
            &fx.join(model),
            pick(&io, &[("input_ids", "input_ids")]),
        );
        for (name, reference) in io.iter().filter(|(k, _)| k.as_str() != "input_ids") {
            assert_close(&format!("{model} {name}"), &out[name], reference, TOL);
        }
    }
}

#[test]
fn sd3_mmdit_t5_and_sixteen_channel_vae() {
    let fx = root().join("adt-models/sd3/tests/fixtures");
    let io = read_tensors(&fx.join("io.safetensors")).unwrap();
    for (case, model) in [
        ("mmdit", fx.join("tiny_sd3/transformer")),
        ("sd35", fx.join("sd35_transformer")),
    ] {
        let names = [
            "hidden_states",
            "encoder_hidden_states",
            "pooled_projections",
            "timestep",
        ];
        let pairs: Vec<(String, &str)> =
            names.iter().map(|n| (format!("{case}.{n}"), *n)).collect();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let out = run("mmdit", &model, pick(&io, &pairs));
        assert_close(
            &format!("{case} sample"),
            &out["sample"],
            &io[&format!("{case}.sample")],
            TOL,
        );
    }
    let t5 = fx.join("tiny_sd3/text_encoder_3");
    let plain = run("t5", &t5, pick(&io, &[("t5.input_ids", "input_ids")]));
    assert_close(
        "t5 last_hidden_state",
        &plain["last_hidden_state"],
        &io["t5.unmasked.last_hidden_state"],
        TOL,
    );
    let masked = run(
        "t5",
        &t5,
        pick(
            &io,
            &[
                ("t5.input_ids", "input_ids"),
                ("t5.attention_mask", "attention_mask"),
            ],
        ),
    );
    assert_close(
        "t5 masked last_hidden_state",
        &masked["last_hidden_state"],
        &io["t5.masked.last_hidden_state"],
        TOL,
    );
    let vae = fx.join("tiny_sd3/vae");
    let enc = run("vae-encode", &vae, pick(&io, &[("vae.image", "image")]));
    assert_close(
        "16-ch vae posterior_mean",
        &enc["posterior_mean"],
        &io["vae.posterior_mean"],
        TOL,
    );
    let dec = run("vae-decode", &vae, pick(&io, &[("vae.latents", "latents")]));
    assert_close(
        "16-ch vae decoded",
        &dec["decoded"],
        &io["vae.decoded"],
        TOL,
    );
}

#[test]
fn dinov2_interpolated_positions() {
    let fx = root().join("adt-models/dinov2/tests/fixtures/tiny");
    let io = read_tensors(&fx.join("cases.safetensors")).unwrap();
    for case in ["native", "larger", "nonsquare"] {
        let input = pick(&io, &[(&format!("{case}.pixel_values"), "pixel_values")]);
        let out = run("dinov2", &fx, input);
        let prefix = format!("{case}.");
        for (name, reference) in io
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !k.ends_with("pixel_values"))
        {
            let key = &name[prefix.len()..];
            assert_close(&format!("dinov2 {name}"), &out[key], reference, TOL);
        }
    }
}
