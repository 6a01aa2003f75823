//! The SD1.5 pipeline against diffusers 0.37.1's own pipelines on a tiny random checkpoint
//! (fixtures from `scripts/fixtures/sd15.py`): txt2img with CFG and negative prompts for
//! DDIM, Euler and DPM++ 2M from the PNDM config SD1.5 ships, and img2img replaying the
//! generator's draws.

use std::collections::BTreeMap;
use std::path::PathBuf;

use adt_family::{GivenNoise, InitImage, Request, SeededNoise};
use adt_models_common::ModelSource;
use adt_models_common::tensor_io::read_tensors;
use adt_models_common::testing::{assert_close, copy_dir};
use adt_schedulers::{SamplerName, Scheduler};
use adt_sd15::Sd15Model;
use burn::prelude::*;

/// Images in [0, 1] after 4–5 guided steps (CFG 7.5 amplifies the UNet's f32 rounding
/// differences ×8.5 per step) and the VAE decoder: max-abs bound.
const IMAGE_TOL: f32 = 1e-4;
/// Final latents: max-abs ≤ this × max|reference|. With a random UNet and CFG 7.5, Euler and
/// DPM++ drive latents to |x| ≈ 50, where one f32 ulp is already 4e-6, so the bound is
/// relative (measured: ≤ 4e-6 relative).
const LATENT_REL_TOL: f32 = 1e-5;

fn latent_tol(reference: &TensorData) -> f32 {
    let scale = reference.iter::<f32>().map(f32::abs).fold(1.0, f32::max);
    LATENT_REL_TOL * scale
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn io() -> BTreeMap<String, TensorData> {
    read_tensors(&fixtures().join("pipeline_io.safetensors")).unwrap_or_else(|e| {
        panic!("{e}\nregenerate with: .venv/bin/python scripts/fixtures/sd15.py")
    })
}

fn tensor<const D: usize>(
    io: &BTreeMap<String, TensorData>,
    key: &str,
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(io[key].clone(), device)
}

fn load(device: &Device) -> Sd15Model {
    Sd15Model::from_pretrained(&ModelSource::Local(fixtures().join("tiny_sd15")), device).unwrap()
}

fn prompts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `[B, 3, H, W]` → diffusers' `output_type="np"` layout `[B, H, W, 3]`.
fn nhwc(images: Tensor<4>) -> TensorData {
    images.permute([0, 2, 3, 1]).into_data()
}

#[test]
fn txt2img_matches_diffusers_for_ddim_euler_and_dpmpp_2m() {
    let device = Device::flex();
    let sd = load(&device);
    let io = io();
    let request = Request {
        prompts: prompts(&[
            "a red circle on a blue background",
            "Two small green SQUARES, top left!",
        ]),
        negative_prompts: Some(prompts(&["blurry", ""])),
        guidance_scale: 7.5,
        height: 32,
        width: 32,
        init: None,
        micro: None,
        negative_micro: None,
    };
    for (name, sampler, steps) in [
        ("ddim", "ddim", 4),
        ("euler", "euler", 4),
        ("dpmpp_2m", "dpmpp-2m", 5),
    ] {
        let sampler: SamplerName = sampler.parse().unwrap();
        let scheduler = Scheduler::new(&sd.scheduler.config(sampler).unwrap(), steps).unwrap();
        let mut noise = GivenNoise::new([tensor::<4>(&io, "txt2img.latents", &device)]);
        let out = sd
            .pipeline()
            .generate(&scheduler, &request, &mut noise, &device)
            .unwrap();
        let reference = &io[&format!("txt2img_{name}.latents_out")];
        assert_close(
            &format!("{name} latents"),
            &out.latents.into_data(),
            reference,
            latent_tol(reference),
        );
        assert_close(
            &format!("{name} image"),
            &nhwc(out.images),
            &io[&format!("txt2img_{name}.image")],
            IMAGE_TOL,
        );
    }
}

#[test]
fn img2img_matches_diffusers() {
    let device = Device::flex();
    let sd = load(&device);
    let io = io();
    let init01 = tensor::<4>(&io, "img2img.init", &device);
    let request = Request {
        prompts: prompts(&["a red circle on a blue background"]),
        negative_prompts: Some(prompts(&["blurry"])),
        guidance_scale: 5.0,
        height: 32,
        width: 32,
        init: Some(InitImage {
            image: init01.mul_scalar(2.0).sub_scalar(1.0),
            strength: 0.6,
        }),
        micro: None,
        negative_micro: None,
    };
    let scheduler = Scheduler::new(&sd.scheduler.config(SamplerName::DDIM).unwrap(), 5).unwrap();
    let mut noise = GivenNoise::new([
        tensor::<4>(&io, "img2img.posterior_noise", &device),
        tensor::<4>(&io, "img2img.noise", &device),
    ]);
    let out = sd
        .pipeline()
        .generate(&scheduler, &request, &mut noise, &device)
        .unwrap();
    assert_close(
        "img2img image",
        &nhwc(out.images),
        &io["img2img_ddim.image"],
        IMAGE_TOL,
    );
}

#[test]
fn seeds_are_per_image_and_reproducible() {
    let device = Device::flex();
    let sd = load(&device);
    let scheduler = Scheduler::new(&sd.scheduler.config(SamplerName::DDIM).unwrap(), 2).unwrap();
    let request = |p: &[&str]| Request::txt2img(prompts(p), 3.0, 16, 24);
    let pair = sd
        .pipeline()
        .generate(
            &scheduler,
            &request(&["a", "b"]),
            &mut SeededNoise::new(7, 2),
            &device,
        )
        .unwrap();
    // Image 1 of the pair was drawn with seed 8: generating it alone with seed 8 reproduces it.
    let alone = sd
        .pipeline()
        .generate(
            &scheduler,
            &request(&["b"]),
            &mut SeededNoise::new(8, 1),
            &device,
        )
        .unwrap();
    assert_eq!(pair.images.dims(), [2, 3, 16, 24]);
    let second = pair.images.clone().narrow(0, 1, 1);
    assert_close(
        "seed 8 alone vs in a batch",
        &alone.images.into_data(),
        &second.into_data(),
        1e-5,
    );
    let other = sd
        .pipeline()
        .generate(
            &scheduler,
            &request(&["b"]),
            &mut SeededNoise::new(9, 1),
            &device,
        )
        .unwrap();
    let diff = (other.images - pair.images.narrow(0, 1, 1))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(
        diff > 1e-3,
        "different seeds gave the same image (max diff {diff})"
    );
}

#[test]
fn bad_requests_are_named() {
    let device = Device::flex();
    let sd = load(&device);
    let scheduler = Scheduler::new(&sd.scheduler.config(SamplerName::DDIM).unwrap(), 2).unwrap();
    let base = Request::txt2img(prompts(&["a"]), 1.0, 30, 32);
    let err = |r: &Request| {
        sd.pipeline()
            .generate(
                &scheduler,
                r,
                &mut SeededNoise::new(0, r.prompts.len()),
                &device,
            )
            .unwrap_err()
            .to_string()
    };
    assert!(err(&base).contains("multiples of 4"), "{}", err(&base));
    let r = Request {
        height: 32,
        negative_prompts: Some(prompts(&["x", "y"])),
        ..base.clone()
    };
    assert!(
        err(&r).contains("2 negative prompts for 1 prompts"),
        "{}",
        err(&r)
    );
    let r = Request {
        height: 32,
        init: Some(InitImage {
            image: Tensor::zeros([1, 3, 16, 16], &device),
            strength: 0.5,
        }),
        ..base.clone()
    };
    assert!(
        err(&r).contains("init image has shape [1, 3, 16, 16]"),
        "{}",
        err(&r)
    );
    let r = Request {
        height: 32,
        init: Some(InitImage {
            image: Tensor::zeros([1, 3, 32, 32], &device),
            strength: 1.5,
        }),
        ..base.clone()
    };
    assert!(
        err(&r).contains("strength must be in [0, 1]"),
        "{}",
        err(&r)
    );
}

#[test]
fn mismatched_components_are_refused() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("tiny_sd15"), dir.path()).unwrap();
    let cfg_path = dir.path().join("unet/config.json");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    // A UNet that cross-attends to 48-wide text (its weights then mismatch too; the config
    // check is what must speak first).
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cross_attention_dim"] = 48.into();
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    let err =
        Sd15Model::from_pretrained(&ModelSource::Local(dir.path().into()), &device).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("attn2.to_k.weight") || msg.contains("cross_attention_dim"),
        "{msg}"
    );
    // A missing component names the file.
    std::fs::remove_file(dir.path().join("tokenizer/merges.txt")).unwrap();
    std::fs::write(&cfg_path, text).unwrap();
    let msg = Sd15Model::from_pretrained(&ModelSource::Local(dir.path().into()), &device)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("merges.txt"), "{msg}");
}
