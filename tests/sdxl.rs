//! SDXL through the CLI and the training data path, on the tiny pipeline of
//! `adt-models/sdxl/tests/fixtures` (`scripts/fixtures/sdxl.py`):
//! - each sample's real original size and crop reach the conditioner's `time_ids`;
//! - `adt train` (no `[adt] sampler`: the checkpoint's Euler) → `adt resume` → `adt export` →
//!   `adt sample --unet` with the tiny DINOv2 backbone;
//! - `adt sample --noise … --save-latents` reproduces diffusers' SDXL and SD1.5 pipelines;
//! - the family is picked from `model_index.json`, and an unknown class is named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adt::data::DataConfig;
use adt::models::common::ModelSource;
use adt::models::common::tensor_io::{read_tensors, write_tensors};
use adt::models::common::testing::max_abs_diff;
use adt::models::family::Tuning;
use adt::models::family::adapters::{AlphaSchedule, SchedulerSampler};
use adt::models::schedulers::SamplerName;
use adt::models::sdxl::{Sdxl, SdxlModel};
use adt::plugin::model::AdtModel;
use adt::plugin::rng::EngineRng;
use adt::plugin::toy::{ToyBackbone, toy_config};
use adt::plugin::{AdtConfig, Parts};
use adt::train::BucketLoader;
use burn::data::dataloader::DataLoader;
use burn::prelude::*;

use crate::cli_train::{adt, config_for, root, run};

fn sdxl_dir() -> PathBuf {
    root().join("adt-models/sdxl/tests/fixtures/tiny_sdxl")
}

/// Images of several sizes (all larger than 32 on both sides), captions naming the size.
const SIZES: [(u32, u32); 4] = [(40, 56), (64, 48), (48, 48), (56, 40)];

pub fn dataset(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut meta = String::new();
    for i in 0..n {
        let (w, h) = SIZES[i % SIZES.len()];
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, (i * 20) as u8])
        });
        let file = format!("img{i:02}.png");
        img.save(dir.join(&file)).unwrap();
        meta.push_str(&format!(
            "{{\"file_name\": \"{file}\", \"text\": \"a gradient {w} by {h}\"}}\n"
        ));
    }
    std::fs::write(dir.join("metadata.jsonl"), meta).unwrap();
}

#[test]
fn each_samples_size_and_crop_reach_the_conditioner() {
    let tmp = tempfile::tempdir().unwrap();
    dataset(&tmp.path().join("data"), 8);
    let data: DataConfig = toml::from_str(&format!(
        "seed = 3\n[source]\nformat = \"image_folder\"\nroot = \"{}\"\n\
         [buckets]\nresolution = 32\nenabled = false\n\
         [preprocess]\ncrop = \"random\"\nflip = \"random\"\n",
        tmp.path().join("data").display()
    ))
    .unwrap();
    let opened = data.open().unwrap();
    let dataset = Arc::new(opened.train);
    let d = Device::flex().autodiff();
    let loader = BucketLoader::new(dataset.clone(), 4, 1, &d).unwrap();

    let sd = SdxlModel::from_pretrained(&ModelSource::Local(sdxl_dir()), &d).unwrap();
    let name = SamplerName::DDIM;
    let sched = sd.scheduler.config(name).unwrap();
    let mut rng = EngineRng::new(5);
    let parts: Parts<Tuning<Sdxl, ToyBackbone>> = Parts {
        generator: sd.denoiser,
        codec: sd.codec,
        conditioner: sd.conditioner,
        backbone: ToyBackbone::new(16, 4, 32, &mut rng, &d),
        schedule: Arc::new(AlphaSchedule::new(&sched).unwrap()),
        sampler: Arc::new(SchedulerSampler::new(name, sched).unwrap()),
    };
    let config = AdtConfig {
        bn_group: 2,
        ..toy_config()
    };
    let model = AdtModel::from_parts(config, parts, &mut rng, &d).unwrap();

    let mut seen_crop = false;
    for batch in loader.iter().take(2) {
        let batch = batch.unwrap();
        let prep = model.prepare(&batch).unwrap();
        let ids = prep.cond.cond.ids.expect("SDXL conditions carry time_ids");
        assert_eq!(ids.dims(), [4, 6]);
        let ids = ids.into_data().try_into_vec::<f32>().unwrap();
        for (k, prompt) in batch.prompts.iter().enumerate() {
            // The caption names the file's real size: "a gradient W by H".
            let words: Vec<&str> = prompt.split(' ').collect();
            let (w, h): (f32, f32) = (words[2].parse().unwrap(), words[4].parse().unwrap());
            let row = &ids[k * 6..k * 6 + 6];
            assert_eq!(
                (row[0], row[1]),
                (h, w),
                "original size of {prompt:?}: {row:?}"
            );
            assert_eq!((row[4], row[5]), (32.0, 32.0), "target size: {row:?}");
            // The crop lies inside the image resized to cover 32x32.
            let scale = (32.0 / w).max(32.0 / h);
            let (rh, rw) = ((h * scale).round().max(32.0), (w * scale).round().max(32.0));
            assert!(
                row[2] <= rh - 32.0 && row[3] <= rw - 32.0,
                "{prompt:?}: {row:?}"
            );
            seen_crop |= row[2] > 0.0 || row[3] > 0.0;
            assert_eq!(batch.micro[k].original_size, (h as u32, w as u32));
        }
    }
    assert!(seen_crop, "no sample was cropped off its top-left corner");
}

#[test]
fn cached_text_holds_the_pooled_embedding_and_conditions_as_encoding_does() {
    let tmp = tempfile::tempdir().unwrap();
    dataset(&tmp.path().join("data"), 4);
    let data: DataConfig = toml::from_str(&format!(
        "[source]\nformat = \"image_folder\"\nroot = \"{}\"\n\
         [buckets]\nresolution = 32\nenabled = false\n[preprocess]\ncrop = \"center\"\n",
        tmp.path().join("data").display()
    ))
    .unwrap();
    let dataset = Arc::new(data.open().unwrap().train);
    let d = Device::flex();
    let sd = SdxlModel::from_pretrained(&ModelSource::Local(sdxl_dir()), &d).unwrap();
    let opts = adt::data::CacheOptions {
        dir: tmp.path().join("cache"),
        progress: adt::data::ProgressMode::Silent,
        ..Default::default()
    };
    let cache =
        adt::train::open_cache::<Sdxl>(&opts, &dataset, &sd.codec, &sd.conditioner, &d).unwrap();
    let plain = BucketLoader::new(dataset.clone(), 4, 1, &d).unwrap();
    let cached = BucketLoader::new(dataset, 4, 1, &d)
        .unwrap()
        .with_cache(cache);
    let (a, b) = (
        plain.iter().next().unwrap().unwrap(),
        cached.iter().next().unwrap().unwrap(),
    );
    let text = b.text.clone().expect("cached prompt embeddings");
    let pooled = text
        .pooled
        .clone()
        .expect("the cache keeps the pooled embedding");
    assert_eq!(pooled.dims(), [4, 40]);
    let direct = adt::plugin::traits::Conditioner::encode_text(&sd.conditioner, &a.prompts, &d);
    assert!(max_abs_diff(&text.hidden.into_data(), &direct.hidden.into_data()) < 1e-6);
    assert!(max_abs_diff(&pooled.into_data(), &direct.pooled.unwrap().into_data()) < 1e-6);
    assert_eq!(a.micro, b.micro);
}

#[test]
fn sdxl_train_resume_export_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"), 8);
    // The SD1.5 test's run config with no `[adt] sampler`, CFG inside the training loop
    // (against zeros, as deployed) and random crops (non-zero crop ids).
    let cfg = config_for(dir, "run", &sdxl_dir(), None);
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args(["--set", "adt.total_steps=3", "--set", "adt.cfg_scale=2.0"])
        .args(["--set", "data.preprocess.crop=\"random\""]));
    assert!(
        log.contains("training with `euler`") && log.contains("EulerDiscreteScheduler"),
        "the checkpoint's own sampler was not chosen:\n{log}"
    );
    assert!(log.contains("(sdxl;"), "{log}");
    let run_dir = dir.join("run");
    let resolved = std::fs::read_to_string(run_dir.join("train.toml")).unwrap();
    assert!(resolved.contains("sampler = \"euler\""), "{resolved}");
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"family\":\"sdxl\""), "{events}");
    assert!(run_dir.join("samples/step-000002.png").is_file());

    resume_export_and_sample_tuned(dir, &run_dir, &sdxl_dir(), "unet");
}

/// The rest of a family's train test: `adt resume` the 3-step run in `run_dir` to step 4,
/// `adt export` it (the denoiser's `subfolder`, `unet` or `transformer`), and check that
/// `adt sample --unet` with the export differs from the base `model`.
pub fn resume_export_and_sample_tuned(dir: &Path, run_dir: &Path, model: &Path, subfolder: &str) {
    run(adt()
        .args(["resume", "--plain", "--total-steps", "4"])
        .arg(run_dir));
    assert!(run_dir.join("checkpoints/step-4/model.bpk").is_file());
    let export = dir.join("export");
    let log = run(adt().arg("export").arg(run_dir).arg("--out").arg(&export));
    assert!(log.contains("exported step 4"), "{log}");
    assert!(export.join(subfolder).join("config.json").is_file());

    // The tuned denoiser samples, and differs from the base.
    let sample = |tuned: Option<&Path>, out: &str| {
        let mut cmd = adt();
        cmd.args(["sample", "a red disc", "--model"])
            .arg(model)
            .args([
                "--steps", "2", "--cfg", "3", "--width", "32", "--height", "32",
            ])
            .args(["--save-latents", "--out"])
            .arg(dir.join(out));
        if let Some(u) = tuned {
            cmd.arg("--unet").arg(u);
        }
        run(&mut cmd);
        read_tensors(&dir.join(out).join("latents.safetensors")).unwrap()["latents"].clone()
    };
    let tuned = sample(Some(&export.join(subfolder)), "tuned");
    let base = sample(None, "base");
    assert!(
        max_abs_diff(&tuned, &base) > 1e-4,
        "the exported {subfolder} samples like the base"
    );
    assert!(dir.join("tuned/0000-seed0.png").is_file());
}

/// `adt sample --noise` with a fixture's start latents rows `rows`, checked against the
/// fixture's diffusers outputs.
#[allow(clippy::too_many_arguments)]
pub fn sample_matches(
    name: &str,
    model: &Path,
    io: &BTreeMap<String, TensorData>,
    case: &str,
    rows: std::ops::Range<usize>,
    prompts: &[&str],
    extra: &[&str],
) {
    let tmp = tempfile::tempdir().unwrap();
    let noise = tmp.path().join("noise.safetensors");
    let latents = io["txt2img.latents"].clone();
    let t = Tensor::<4>::from_data(latents, &Device::flex()).narrow(0, rows.start, rows.len());
    write_tensors(&noise, &BTreeMap::from([("latents".into(), t.into_data())])).unwrap();
    let out = tmp.path().join("out");
    run(adt()
        .arg("sample")
        .args(prompts)
        .arg("--model")
        .arg(model)
        .arg("--noise")
        .arg(&noise)
        .args(["--save-latents", "--batch", "2", "--out"])
        .arg(&out)
        .args(extra));
    let got = read_tensors(&out.join("latents.safetensors")).unwrap()["latents"].clone();
    let reference =
        Tensor::<4>::from_data(io[&format!("{case}.latents_out")].clone(), &Device::flex())
            .narrow(0, rows.start, rows.len())
            .into_data();
    let scale = reference.iter::<f32>().map(f32::abs).fold(1.0, f32::max);
    let err = max_abs_diff(&got, &reference);
    assert!(err <= 1e-3 * scale, "{name}: latents max-abs {err:.3e}");
    // The PNGs against diffusers' 8-bit images.
    let images = &io[&format!("{case}.image")];
    let [_, h, w, _]: [usize; 4] = images.shape().to_vec().try_into().unwrap();
    let reference = images.clone().try_into_vec::<f32>().unwrap();
    for (k, row) in rows.enumerate() {
        let png = image::open(out.join(format!("{k:04}-seed{k}.png")))
            .unwrap()
            .to_rgb8();
        let px = &reference[row * h * w * 3..(row + 1) * h * w * 3];
        let worst = png
            .as_raw()
            .iter()
            .zip(px)
            .map(|(a, b)| (*a as f32 - (b * 255.0).round()).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 2.0, "{name}: image {k} is {worst} levels off");
    }
}

#[test]
fn sample_with_given_noise_reproduces_diffusers_sdxl() {
    let io = read_tensors(&root().join("adt-models/sdxl/tests/fixtures/pipeline_io.safetensors"))
        .unwrap();
    let prompts = [
        "a red circle on a blue background",
        "Two small green SQUARES, top left!",
    ];
    let size = [
        "--width", "64", "--height", "48", "--cfg", "5", "--steps", "4",
    ];
    let mut euler = vec!["--sampler", "euler", "--negative", "blurry"];
    euler.extend(size);
    sample_matches(
        "sdxl euler",
        &sdxl_dir(),
        &io,
        "txt2img_euler",
        0..2,
        &prompts,
        &euler,
    );
    // Without --negative: CFG against zeros (force_zeros_for_empty_prompt).
    let mut ddim = vec!["--sampler", "ddim"];
    ddim.extend(size);
    sample_matches(
        "sdxl ddim zeros",
        &sdxl_dir(),
        &io,
        "txt2img_ddim_zeros",
        0..2,
        &prompts,
        &ddim,
    );
}

#[test]
fn sample_with_given_noise_reproduces_diffusers_sd15() {
    let dir = root().join("adt-models/sd15/tests/fixtures");
    let io = read_tensors(&dir.join("pipeline_io.safetensors")).unwrap();
    let model = dir.join("tiny_sd15");
    // The fixture's negatives are per prompt ("blurry", ""): one call per prompt.
    let common = [
        "--sampler",
        "ddim",
        "--steps",
        "4",
        "--cfg",
        "7.5",
        "--width",
        "32",
        "--height",
        "32",
    ];
    let mut first = vec!["--negative", "blurry"];
    first.extend(common);
    sample_matches(
        "sd15 prompt 0",
        &model,
        &io,
        "txt2img_ddim",
        0..1,
        &["a red circle on a blue background"],
        &first,
    );
    let mut second = vec!["--negative", ""];
    second.extend(common);
    sample_matches(
        "sd15 prompt 1",
        &model,
        &io,
        "txt2img_ddim",
        1..2,
        &["Two small green SQUARES, top left!"],
        &second,
    );
}

#[test]
fn the_family_comes_from_model_index_and_an_unknown_class_is_named() {
    use adt::family::FamilyKind;
    let kind = FamilyKind::of_pipeline(&ModelSource::Local(sdxl_dir())).unwrap();
    assert_eq!(kind, FamilyKind::Sdxl);
    let sd15 = root().join("adt-models/sd15/tests/fixtures/tiny_sd15");
    assert_eq!(
        FamilyKind::of_pipeline(&ModelSource::Local(sd15)).unwrap(),
        FamilyKind::Sd15
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("model_index.json"),
        r#"{"_class_name": "KandinskyPipeline"}"#,
    )
    .unwrap();
    let e = format!(
        "{:#}",
        FamilyKind::of_pipeline(&ModelSource::Local(tmp.path().into())).unwrap_err()
    );
    assert!(
        e.contains("model_index.json")
            && e.contains("KandinskyPipeline")
            && e.contains("StableDiffusionXLPipeline (sdxl)"),
        "{e}"
    );
    let e = "flux".parse::<FamilyKind>().unwrap_err().to_string();
    assert!(
        e.contains("unknown model family `flux`") && e.contains("sd15, sdxl, sd3"),
        "{e}"
    );
    // The CLI names it too.
    let out = adt()
        .args(["sample", "x", "--model"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KandinskyPipeline"), "{stderr}");
}

#[test]
fn a_single_file_of_another_family_is_refused() {
    let file = root().join("adt-models/diffusion/tests/fixtures/sd15_tiny_single_file.safetensors");
    let out = adt()
        .args(["sample", "x", "--family", "sdxl", "--single-file"])
        .arg(&file)
        .arg("--model")
        .arg(sdxl_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sd15_tiny_single_file.safetensors")
            && stderr.contains("not an SDXL single file"),
        "{stderr}"
    );
    // And the other way round: the SGM file read as SD1.x names its family.
    let sgm = root().join("adt-models/sdxl/tests/fixtures/tiny_sdxl_single_file.safetensors");
    let out = adt()
        .args(["sample", "x", "--family", "sd15", "--single-file"])
        .arg(&sgm)
        .arg("--model")
        .arg(root().join("adt-models/sd15/tests/fixtures/tiny_sd15"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tiny_sdxl_single_file.safetensors")
            && stderr.contains("not an SD1.x/2.x single file")
            && stderr.contains("use family \"sdxl\""),
        "{stderr}"
    );
}
