//! The SDXL family against diffusers 0.37.1's own `StableDiffusionXLPipeline` and
//! `StableDiffusionXLImg2ImgPipeline` on tiny random pipelines (fixtures from
//! `scripts/fixtures/sdxl.py`, saved as the fp16 variant and upcast): Euler and DDIM, CFG with a
//! negative prompt and against the zeros of `force_zeros_for_empty_prompt`, a non-square size,
//! given micro-conditioning, img2img, the refiner (no `text_encoder`, aesthetic score), the SGM
//! single file, and the bad inputs the loader must name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adt_family::{Family, GivenNoise, InitImage, Model, Request};
use adt_models_common::ModelSource;
use adt_models_common::tensor_io::read_tensors;
use adt_models_common::testing::{check_image, check_latents, copy_dir, max_abs_diff};
use adt_plugin::traits::MicroCond;
use adt_schedulers::{SamplerName, Scheduler};
use adt_sdxl::SdxlModel;
use burn::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn io() -> BTreeMap<String, TensorData> {
    read_tensors(&fixtures().join("pipeline_io.safetensors")).unwrap_or_else(|e| {
        panic!("{e}\nregenerate with: .venv/bin/python scripts/fixtures/sdxl.py")
    })
}

fn tensor(io: &BTreeMap<String, TensorData>, key: &str, device: &Device) -> Tensor<4> {
    Tensor::from_data(io[key].clone(), device)
}

fn load(dir: &str, device: &Device) -> SdxlModel {
    SdxlModel::from_pretrained(&ModelSource::Local(fixtures().join(dir)), device).unwrap()
}

fn prompts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const PROMPTS: [&str; 2] = [
    "a red circle on a blue background",
    "Two small green SQUARES, top left!",
];
const H: usize = 48;
const W: usize = 64;

fn scheduler<F: Family>(model: &Model<F>, name: &str, steps: usize) -> Scheduler {
    let name: SamplerName = name.parse().unwrap();
    Scheduler::new(&model.scheduler.config(name).unwrap(), steps).unwrap()
}

#[test]
fn txt2img_matches_diffusers_with_negatives_zeros_and_micro_conditioning() {
    let device = Device::flex();
    let sd = load("tiny_sdxl", &device);
    let io = io();
    let base = Request::txt2img(prompts(&PROMPTS), 5.0, H, W);
    let cases = [
        (
            "txt2img_euler",
            "euler",
            4,
            Request {
                negative_prompts: Some(prompts(&["blurry"])),
                ..base.clone()
            },
        ),
        // No negative prompt: CFG against zeros (force_zeros_for_empty_prompt).
        ("txt2img_ddim_zeros", "ddim", 4, base.clone()),
        (
            "txt2img_micro",
            "euler",
            3,
            Request {
                guidance_scale: 1.0,
                micro: Some(MicroCond {
                    original_size: (96, 128),
                    crop_top_left: (8, 16),
                    ..MicroCond::full((H as u32, W as u32))
                }),
                ..base.clone()
            },
        ),
    ];
    for (name, sampler, steps, request) in cases {
        let mut noise = GivenNoise::new([tensor(&io, "txt2img.latents", &device)]);
        let out = sd
            .pipeline()
            .generate(
                &scheduler(&sd, sampler, steps),
                &request,
                &mut noise,
                &device,
            )
            .unwrap();
        check_latents(name, out.latents, &io[&format!("{name}.latents_out")]);
        check_image(name, out.images, &io[&format!("{name}.image")]);
    }
}

#[test]
fn the_micro_conditioning_changes_the_output() {
    // Guards the case above: with the default micro-conditioning the result differs.
    let device = Device::flex();
    let sd = load("tiny_sdxl", &device);
    let io = io();
    let request = Request::txt2img(prompts(&PROMPTS), 1.0, H, W);
    let mut noise = GivenNoise::new([tensor(&io, "txt2img.latents", &device)]);
    let out = sd
        .pipeline()
        .generate(&scheduler(&sd, "euler", 3), &request, &mut noise, &device)
        .unwrap();
    let diff = max_abs_diff(&out.latents.into_data(), &io["txt2img_micro.latents_out"]);
    assert!(diff > 1e-2, "time_ids did not reach the UNet (diff {diff})");
}

#[test]
fn img2img_matches_diffusers() {
    let device = Device::flex();
    let sd = load("tiny_sdxl", &device);
    let io = io();
    let request = Request {
        negative_prompts: Some(prompts(&["blurry"])),
        init: Some(InitImage {
            image: tensor(&io, "img2img.init", &device)
                .mul_scalar(2.0)
                .sub_scalar(1.0),
            strength: 0.6,
        }),
        ..Request::txt2img(prompts(&PROMPTS[..1]), 5.0, H, W)
    };
    let mut noise = GivenNoise::new([
        tensor(&io, "img2img.posterior_noise", &device),
        tensor(&io, "img2img.noise", &device),
    ]);
    let out = sd
        .pipeline()
        .generate(&scheduler(&sd, "euler", 5), &request, &mut noise, &device)
        .unwrap();
    check_latents("img2img", out.latents, &io["img2img_euler.latents_out"]);
    check_image("img2img", out.images, &io["img2img_euler.image"]);
}

#[test]
fn the_refiner_loads_and_samples_as_diffusers() {
    let device = Device::flex();
    let sd = load("tiny_sdxl_refiner", &device);
    assert!(sd.conditioner.text_encoder.is_none());
    assert!(sd.conditioner.options.requires_aesthetics_score);
    assert!(!sd.conditioner.options.force_zeros_for_empty_prompt);
    let io = io();
    let out = refiner_img2img(&sd, &io, &device);
    check_latents("refiner", out.latents, &io["refiner_img2img.latents_out"]);
    check_image("refiner", out.images, &io["refiner_img2img.image"]);
    // The refiner's SGM single file (OpenCLIP as embedder 0) loads to identical outputs.
    let file = SdxlModel::from_single_file(
        &fixtures().join("tiny_sdxl_refiner_single_file.safetensors"),
        &ModelSource::Local(fixtures().join("tiny_sdxl_refiner")),
        &device,
    )
    .unwrap();
    let from_file = refiner_img2img(&file, &io, &device);
    let folder = refiner_img2img(&sd, &io, &device);
    assert_eq!(
        max_abs_diff(&from_file.latents.into_data(), &folder.latents.into_data()),
        0.0,
        "refiner single file and folder differ"
    );
}

/// The fixture's refiner case: img2img, CFG 4, crop (4, 8) (the negative branch keeps the
/// refiner's default (0, 0) and aesthetic score 2.5).
fn refiner_img2img(
    sd: &SdxlModel,
    io: &BTreeMap<String, TensorData>,
    device: &Device,
) -> adt_family::Generated {
    let request = Request {
        init: Some(InitImage {
            image: tensor(io, "refiner.init", device)
                .mul_scalar(2.0)
                .sub_scalar(1.0),
            strength: 0.5,
        }),
        micro: Some(MicroCond {
            crop_top_left: (4, 8),
            ..MicroCond::full((H as u32, W as u32))
        }),
        ..Request::txt2img(prompts(&PROMPTS[1..]), 4.0, H, W)
    };
    let mut noise = GivenNoise::new([
        tensor(io, "refiner.posterior_noise", device),
        tensor(io, "refiner.noise", device),
    ]);
    sd.pipeline()
        .generate(&scheduler(sd, "ddim", 4), &request, &mut noise, device)
        .unwrap()
}

#[test]
fn the_sgm_single_file_loads_to_identical_outputs() {
    let device = Device::flex();
    let folder = load("tiny_sdxl", &device);
    let file = SdxlModel::from_single_file(
        &fixtures().join("tiny_sdxl_single_file.safetensors"),
        &ModelSource::Local(fixtures().join("tiny_sdxl")),
        &device,
    )
    .unwrap();
    let io = io();
    let request = Request {
        negative_prompts: Some(prompts(&["blurry"])),
        ..Request::txt2img(prompts(&PROMPTS), 5.0, H, W)
    };
    let run = |sd: &SdxlModel| {
        let mut noise = GivenNoise::new([tensor(&io, "txt2img.latents", &device)]);
        sd.pipeline()
            .generate(&scheduler(sd, "euler", 4), &request, &mut noise, &device)
            .unwrap()
    };
    let (a, b) = (run(&folder), run(&file));
    assert_eq!(
        max_abs_diff(&a.latents.into_data(), &b.latents.into_data()),
        0.0,
        "single file and folder differ"
    );
    assert_eq!(
        max_abs_diff(&a.images.into_data(), &b.images.into_data()),
        0.0
    );
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn bad_checkpoints_are_named() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sdxl");
    copy_dir(&fixtures().join("tiny_sdxl"), &dir).unwrap();
    let load = |d: &Path| {
        SdxlModel::from_pretrained(&ModelSource::Local(d.to_path_buf()), &device)
            .unwrap_err()
            .to_string()
    };

    // No text_encoder_2 in the index.
    let index = dir.join("model_index.json");
    let original = std::fs::read_to_string(&index).unwrap();
    edit_json(&index, |v| {
        v.as_object_mut().unwrap().remove("text_encoder_2");
    });
    let e = load(&dir);
    assert!(
        e.contains("model_index.json") && e.contains("text_encoder_2"),
        "{e}"
    );
    // Listed but not on disk: the missing file is named.
    std::fs::write(&index, &original).unwrap();
    let te2 = dir.join("text_encoder_2");
    std::fs::rename(&te2, dir.join("moved")).unwrap();
    let e = load(&dir);
    assert!(e.contains("text_encoder_2"), "{e}");
    std::fs::rename(dir.join("moved"), &te2).unwrap();

    // The refiner's UNet (cross-attends to text_encoder_2 alone) in the base pipeline.
    let unet = dir.join("unet");
    std::fs::rename(&unet, dir.join("unet.base")).unwrap();
    copy_dir(&fixtures().join("tiny_sdxl_refiner/unet"), &unet).unwrap();
    let e = load(&dir);
    assert!(
        e.contains("cross_attention_dim = [48]")
            && e.contains("sum to 80 = 32 (text_encoder) + 48"),
        "{e}"
    );
    std::fs::remove_dir_all(&unet).unwrap();
    std::fs::rename(dir.join("unet.base"), &unet).unwrap();

    // An SD1.5 pipeline index.
    edit_json(&index, |v| {
        v["_class_name"] = "StableDiffusionPipeline".into()
    });
    let e = load(&dir);
    assert!(
        e.contains("StableDiffusionPipeline") && e.contains("is not a `sdxl` pipeline"),
        "{e}"
    );
    // ... and the SDXL folder read as SD1.x.
    std::fs::write(&index, &original).unwrap();
    let e = adt_sd15::Sd15Model::from_pretrained(&ModelSource::Local(dir.clone()), &device)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model_index.json") && e.contains("is not a `sd15` pipeline"),
        "{e}"
    );
    std::fs::write(&index, &original).unwrap();

    // An SD1.x single file read as SDXL.
    let sd1_file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../diffusion/tests/fixtures/sd15_tiny_single_file.safetensors");
    let e = SdxlModel::from_single_file(&sd1_file, &ModelSource::Local(dir.clone()), &device)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sd15_tiny_single_file.safetensors") && e.contains("not an SDXL single file"),
        "{e}"
    );

    // A VAE of another latent width.
    let sd = SdxlModel::from_pretrained(&ModelSource::Local(dir.clone()), &device).unwrap();
    let vae = fixtures().join("tiny_vae_8ch");
    let e = sd
        .with_vae(&ModelSource::Local(vae), &device)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tiny_vae_8ch") && e.contains("8 latent channels") && e.contains("takes 4"),
        "{e}"
    );
}

#[test]
fn the_checkpoint_names_euler_as_its_training_sampler() {
    let device = Device::flex();
    let sd = load("tiny_sdxl", &device);
    let (name, why) = sd.scheduler.training_sampler().unwrap();
    assert_eq!(name.to_string(), "euler");
    assert!(why.contains("EulerDiscreteScheduler"), "{why}");
}
