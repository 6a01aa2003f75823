//! The SD3 family against diffusers 0.37.1's own `StableDiffusion3Pipeline` and
//! `StableDiffusion3Img2ImgPipeline` on tiny random pipelines (fixtures from
//! `scripts/fixtures/sd3.py`): flow-matching Euler with shift 3, CFG with a negative prompt,
//! a non-square size, for SD3, an SD3.5-style transformer (bf16) and a pipeline without
//! `text_encoder_3`; img2img with SD3's fractional start; the 16-channel VAE; the Stability
//! single files; and the bad inputs the loader must name.

use std::path::Path;

use adt_family::{Family, GivenNoise, InitImage, Model, Request};
use adt_models_common::ModelSource;
use adt_models_common::testing::{
    assert_close, check_image, check_latents, copy_dir, max_abs_diff,
};
use adt_plugin::traits::{Codec, Conditioner};
use adt_schedulers::{SamplerName, Scheduler};
use adt_sd3::{Sd3, Sd3Model};
use burn::prelude::*;

use crate::common::*;

const PROMPTS: [&str; 2] = [
    "a red circle on a blue background",
    "Two small green SQUARES, top left!",
];
const NEGATIVE: &str = "blurry";
const H: usize = 48;
const W: usize = 64;

fn load(dir: &Path, device: &Device) -> Sd3Model {
    Sd3Model::from_pretrained(&ModelSource::Local(dir.to_path_buf()), device).unwrap()
}

fn prompts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn scheduler<F: Family>(model: &Model<F>, steps: usize) -> Scheduler {
    Scheduler::new(
        &model.scheduler.config(SamplerName::FLOW_EULER).unwrap(),
        steps,
    )
    .unwrap()
}

/// The fixture's txt2img case: CFG 4 with the negative prompt, 4 flow-Euler steps.
fn txt2img(sd: &Sd3Model, device: &Device) -> adt_family::Generated {
    let io = io();
    let request = Request {
        negative_prompts: Some(prompts(&[NEGATIVE])),
        ..Request::txt2img(prompts(&PROMPTS), 4.0, H, W)
    };
    let mut noise = GivenNoise::new([tensor(&io, "txt2img.latents", device)]);
    sd.pipeline()
        .generate(&scheduler(sd, 4), &request, &mut noise, device)
        .unwrap()
}

/// A copy of the pipeline whose `model_index.json` has `edit` applied.
fn edited_copy(edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny_sd3"), dir.path()).unwrap();
    let path = dir.path().join("model_index.json");
    let mut index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut index);
    std::fs::write(&path, serde_json::to_string_pretty(&index).unwrap()).unwrap();
    dir
}

#[test]
fn txt2img_matches_diffusers_for_sd3_sd35_and_without_t5() {
    let device = Device::flex();
    let io = io();
    let sd3 = load(&fixtures().join("tiny_sd3"), &device);
    assert!(sd3.conditioner.text_encoder_3.is_some());
    assert_eq!(sd3.default_size(), (64, 64));
    let out = txt2img(&sd3, &device);
    check_latents("sd3", out.latents, get(&io, "sd3.latents_out"));
    check_image("sd3", out.images, get(&io, "sd3.image"));

    // SD3.5: the tuned-transformer path swaps in the bf16 QK-norm / MMDiT-X transformer.
    let sd35 = sd3
        .with_denoiser(&fixtures().join("sd35_transformer"), &device)
        .unwrap();
    let out = txt2img(&sd35, &device);
    check_latents("sd35", out.latents, get(&io, "sd35.latents_out"));
    check_image("sd35", out.images, get(&io, "sd35.image"));

    // Without text_encoder_3: zeros of [B, 256, joint_attention_dim] in T5's place.
    let dir = edited_copy(|index| {
        index["text_encoder_3"] = serde_json::json!([null, null]);
        index["tokenizer_3"] = serde_json::json!([null, null]);
    });
    let no_t5 = load(dir.path(), &device);
    assert!(no_t5.conditioner.text_encoder_3.is_none());
    let out = txt2img(&no_t5, &device);
    check_latents("no_t5", out.latents, get(&io, "no_t5.latents_out"));
    check_image("no_t5", out.images, get(&io, "no_t5.image"));
}

#[test]
fn img2img_keeps_sd3s_fractional_start_and_matches_diffusers() {
    let device = Device::flex();
    let io = io();
    let sd = load(&fixtures().join("tiny_sd3"), &device);
    let steps = 5;
    let sched = scheduler(&sd, steps);
    // 5 · 0.55 = 2.75 → SD3 starts at step 2 (SD1.x's rule would start at 3).
    assert_eq!(Sd3::img2img_start(&sched, 0.55).unwrap(), 2);
    let request = Request {
        negative_prompts: Some(prompts(&[NEGATIVE])),
        init: Some(InitImage {
            image: tensor::<4>(&io, "img2img.init", &device)
                .mul_scalar(2.0)
                .sub_scalar(1.0),
            strength: 0.55,
        }),
        ..Request::txt2img(prompts(&PROMPTS[..1]), 4.0, H, W)
    };
    let mut noise = GivenNoise::new([
        tensor(&io, "img2img.posterior_noise", &device),
        tensor(&io, "img2img.noise", &device),
    ]);
    let out = sd
        .pipeline()
        .generate(&sched, &request, &mut noise, &device)
        .unwrap();
    check_latents("img2img", out.latents, get(&io, "img2img.latents_out"));
    check_image("img2img", out.images, get(&io, "img2img.image"));
}

#[test]
fn sixteen_channel_vae_with_shift_factor_matches_diffusers() {
    let device = Device::flex();
    let io = io();
    let sd = load(&fixtures().join("tiny_sd3"), &device);
    let vae = &sd.codec.vae;
    assert!(vae.quant_conv.is_none() && vae.post_quant_conv.is_none());
    let post = vae.encode(tensor(&io, "vae.image", &device));
    assert_close(
        "vae posterior mean",
        &post.mean.clone().into_data(),
        get(&io, "vae.posterior_mean"),
        F32_TOL,
    );
    assert_close(
        "vae posterior logvar",
        &post.logvar.into_data(),
        get(&io, "vae.posterior_logvar"),
        F32_TOL,
    );
    let dec = vae.decode(tensor(&io, "vae.latents", &device));
    assert_close(
        "vae decode",
        &dec.into_data(),
        get(&io, "vae.decoded"),
        F32_TOL,
    );
    // The codec applies shift and scale: decode(z) = vae.decode(z / 1.5305 + 0.0609).
    let z: Tensor<4> = tensor(&io, "vae.latents", &device);
    let a = sd
        .codec
        .decode(z.clone().sub_scalar(0.0609).mul_scalar(1.5305))
        .into_data();
    let b = vae.decode(z).into_data();
    assert!(max_abs_diff(&a, &b) < 1e-4);
}

#[test]
fn stability_single_files_load_to_diffusers_outputs() {
    let device = Device::flex();
    let io = io();
    let configs = ModelSource::Local(fixtures().join("tiny_sd3"));
    // With the encoders bundled (sd3_medium_incl_clips): diffusers' `from_single_file` of the
    // same file is the reference (f16 weights, CLIP-L pooled unprojected).
    let file =
        Sd3Model::from_single_file(&fixtures().join("tiny_sd3.safetensors"), &configs, &device)
            .unwrap();
    assert!(file.conditioner.text_encoder_3.is_some());
    let out = txt2img(&file, &device);
    check_latents(
        "single file",
        out.latents,
        get(&io, "single_file.latents_out"),
    );

    // Without encoders (sd3_medium): they come from the config folder's weights.
    let bare = Sd3Model::from_single_file(
        &fixtures().join("tiny_sd3_no_encoders.safetensors"),
        &configs,
        &device,
    )
    .unwrap();
    let folder = load(&fixtures().join("tiny_sd3"), &device);
    let text = |m: &Sd3Model| m.conditioner.encode_text(&prompts(&PROMPTS), &device);
    let (a, b) = (text(&bare), text(&folder));
    assert_eq!(
        max_abs_diff(&a.hidden.into_data(), &b.hidden.into_data()),
        0.0
    );
    assert_eq!(
        max_abs_diff(
            &a.pooled.unwrap().into_data(),
            &b.pooled.unwrap().into_data()
        ),
        0.0
    );
    // … and the file's transformer is the folder's up to f16 rounding.
    let x = txt2img(&bare, &device).latents.into_data();
    let y = txt2img(&folder, &device).latents.into_data();
    let scale = y.iter::<f32>().map(f32::abs).fold(1.0, f32::max);
    assert!(
        max_abs_diff(&x, &y) < 5e-2 * scale,
        "no-encoder file vs folder: {}",
        max_abs_diff(&x, &y)
    );
}

#[test]
fn bad_inputs_are_named() {
    let device = Device::flex();
    // text_encoder_3 without tokenizer_3.
    let dir = edited_copy(|index| index["tokenizer_3"] = serde_json::json!([null, null]));
    let err = Sd3Model::from_pretrained(&ModelSource::Local(dir.path().into()), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer_3"), "{err}");
    // tokenizer_3 listed but its file missing.
    let dir = edited_copy(|_| {});
    std::fs::remove_file(dir.path().join("tokenizer_3/tokenizer.json")).unwrap();
    let err = Sd3Model::from_pretrained(&ModelSource::Local(dir.path().into()), &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tokenizer_3") && err.contains("tokenizer.json"),
        "{err}"
    );

    // A transformer reading another width than T5 writes.
    let sd = load(&fixtures().join("tiny_sd3"), &device);
    let mut config = sd.denoiser.transformer.config().clone();
    config.joint_attention_dim = 64;
    let tuned = tempfile::tempdir().unwrap();
    adt_diffusion::Sd3Transformer2DModel::new(&config, &device)
        .unwrap()
        .save_pretrained(tuned.path())
        .unwrap();
    let err = sd
        .with_denoiser(tuned.path(), &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("joint_attention_dim") && err.contains("64") && err.contains("96"),
        "{err}"
    );

    // A single file without encoders, and a config source without their weights.
    let configs = tempfile::tempdir().unwrap();
    for part in [
        "model_index.json",
        "scheduler",
        "transformer/config.json",
        "vae/config.json",
        "text_encoder/config.json",
        "text_encoder_2/config.json",
        "text_encoder_3/config.json",
        "tokenizer",
        "tokenizer_2",
        "tokenizer_3",
    ] {
        let (from, to) = (
            fixtures().join("tiny_sd3").join(part),
            configs.path().join(part),
        );
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if from.is_dir() {
            copy_dir(&from, &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let err = Sd3Model::from_single_file(
        &fixtures().join("tiny_sd3_no_encoders.safetensors"),
        &ModelSource::Local(configs.path().into()),
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("text_encoders.clip_l.transformer.") && err.contains("text_encoder"),
        "{err}"
    );
    // …while the bundled file loads from the configs alone.
    Sd3Model::from_single_file(
        &fixtures().join("tiny_sd3.safetensors"),
        &ModelSource::Local(configs.path().into()),
        &device,
    )
    .unwrap();

    // Not an SD3 file.
    let err = Sd3Model::from_single_file(
        &fixtures().join("t5_fp8.safetensors"),
        &ModelSource::Local(fixtures().join("tiny_sd3")),
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not an SD3 single file"), "{err}");

    // A prompt longer than max_sequence_length: truncated, with a warning naming the limit.
    let long = vec![format!("{}end", "a red circle ".repeat(100))];
    let warnings = sd_warnings(&long);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("max_sequence_length = 256")),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w.contains("77")), "{warnings:?}");
    assert!(sd_warnings(&prompts(&PROMPTS)).is_empty());
}

fn sd_warnings(p: &[String]) -> Vec<String> {
    let sd = load(&fixtures().join("tiny_sd3"), &Device::flex());
    sd.conditioner.prompt_warnings(p)
}
