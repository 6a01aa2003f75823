//! `adt train` → `adt resume` → `adt export` → `adt sample` end to end on the tiny SD1.5 and
//! DINOv2 fixtures and a generated imagefolder dataset (with a corrupt and a missing image,
//! skipped and reported). A run interrupted at step 2 and resumed to step 4 exports a UNet
//! bit-identical to an uninterrupted 4-step run: same data position, same draws.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn adt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_adt"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `cmd`, fail the test with its output unless it succeeds; returns stdout + stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn adt");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// `half` holds every tensor of the safetensors file `full` rounded to `dtype`, and its header
/// says so for each (tensor_io upcasts what it reads, so the header is read here).
pub fn assert_rounded_copy(full: &Path, half: &Path, dtype: burn::tensor::DType) {
    use adt::models::common::tensor_io::read_tensors;
    let file = std::fs::read(half).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let name = format!("{dtype:?}").to_uppercase();
    for (key, entry) in header.as_object().unwrap() {
        if key != "__metadata__" && !key.ends_with(".alpha") {
            assert_eq!(entry["dtype"], name.as_str(), "{}: {key}", half.display());
        }
    }
    let (full, half) = (read_tensors(full).unwrap(), read_tensors(half).unwrap());
    assert_eq!(
        full.keys().collect::<Vec<_>>(),
        half.keys().collect::<Vec<_>>()
    );
    for (key, t) in &full {
        let rounded = t
            .clone()
            .convert_dtype(dtype)
            .convert_dtype(burn::tensor::DType::F32);
        assert_eq!(
            half[key].as_bytes(),
            rounded.as_bytes(),
            "{key}: not the f32 tensor rounded to {dtype:?}"
        );
    }
}

/// 14 images 32×32 of 4 colours with captions, plus one corrupt file and one missing file.
fn run_ok(dir: &Path, run_dir: &str, step: usize, out: &str) {
    run(adt()
        .arg("export")
        .arg(dir.join(run_dir))
        .args(["--step", &step.to_string(), "--out"])
        .arg(dir.join(out)));
}

pub fn dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let colours = [
        ("red", [220u8, 30, 30]),
        ("green", [30, 200, 40]),
        ("blue", [30, 40, 220]),
        ("yellow", [230, 220, 40]),
    ];
    let mut meta = String::new();
    for i in 0..14 {
        let (name, rgb) = colours[i % 4];
        let img = image::RgbImage::from_fn(32, 32, |x, y| {
            let inside = (x as i32 - 16).pow(2) + (y as i32 - 16).pow(2) < (6 + i as i32).pow(2);
            if inside {
                image::Rgb(rgb)
            } else {
                image::Rgb([240, 240, 240])
            }
        });
        let file = format!("img{i:02}.png");
        img.save(dir.join(&file)).unwrap();
        meta.push_str(&format!(
            "{{\"file_name\": \"{file}\", \"text\": \"a {name} disc\"}}\n"
        ));
    }
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    meta.push_str("{\"file_name\": \"broken.png\", \"text\": \"corrupt\"}\n");
    meta.push_str("{\"file_name\": \"absent.png\", \"text\": \"missing\"}\n");
    std::fs::write(dir.join("metadata.jsonl"), meta).unwrap();
}

fn config(dir: &Path, out: &str) -> PathBuf {
    config_for(
        dir,
        out,
        &root().join("adt-models/sd15/tests/fixtures/tiny_sd15"),
        Some("ddim"),
    )
}

/// The tiny run config of these tests for the pipeline `model`; `sampler` = None leaves
/// `[adt] sampler` out (the checkpoint's own scheduler).
pub fn config_for(dir: &Path, out: &str, model: &Path, sampler: Option<&str>) -> PathBuf {
    let sampler = sampler.map_or_else(String::new, |s| format!("sampler = \"{s}\"\n"));
    let text = format!(
        r#"out = "{out}"

[model]
source = "{sd}"

[discriminator]
backbone = "{dino}"
input_size = [20, 20]

[data]
seed = 3
max_bad_fraction = 0.2

[data.source]
format = "image_folder"
root = "data"

[data.buckets]
resolution = 32
enabled = false

[adt]
{sampler}seed = 7
total_steps = 4
batch_size = 4
bn_group = 2
m = 4
cmap_dim = 8
head_kernel = 3
checkpoint_every = 2
ema_decay = 0.9

[adt.g_optim]
lr = 1e-3

[adt.d_optim]
lr = 1e-3

[validation]
every = 2
prompts = ["a red disc", "a blue disc"]
seed = 11
steps = 2
cfg = 3.0
columns = 2
"#,
        sd = model.display(),
        dino = root()
            .join("adt-models/dinov2/tests/fixtures/tiny")
            .display(),
    );
    let path = dir.join(format!("{out}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn train_resume_export_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"));

    // Interrupted plan: 2 steps now (override), 2 more on resume.
    let cfg = config(dir, "run");
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args(["--set", "adt.total_steps=2"]));
    assert!(
        log.contains("2 skipped") && log.contains("metadata.jsonl:16: image file not found"),
        "bad records not reported:\n{log}"
    );
    let run_dir = dir.join("run");
    for f in [
        "train.toml",
        "config.toml",
        "events.jsonl",
        "checkpoints/step-2/model.bpk",
        "samples/step-000002.png",
    ] {
        assert!(run_dir.join(f).is_file(), "missing {f}");
    }
    // A second `train` into the same folder refuses to overwrite it.
    let out = adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("adt resume"));

    run(adt()
        .args(["resume", "--plain", "--total-steps", "4"])
        .arg(&run_dir));
    assert!(run_dir.join("checkpoints/step-4/ema.bpk").is_file());
    assert!(run_dir.join("samples/step-000004.png").is_file());
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"resumed_from\":2"), "{events}");
    assert_eq!(events.matches("\"type\":\"sample\"").count(), 2, "{events}");

    // The same 4 steps without interruption.
    let straight = config(dir, "straight");
    run(adt().args(["train", "--plain", "--config"]).arg(&straight));

    // Checkpoint files hold random parameter ids, so compare what they export.
    let export = |run: &str, step: usize, name: &str| {
        run_ok(dir, run, step, name);
        std::fs::read(dir.join(format!("{name}/unet/diffusion_pytorch_model.safetensors"))).unwrap()
    };
    assert!(
        export("run", 2, "run-2") == export("straight", 2, "straight-2"),
        "the first two steps differ between the two runs"
    );
    assert!(
        export("run", 4, "export-resumed") == export("straight", 4, "export-straight"),
        "the resumed run diverged from the straight run"
    );
    let weights = |name: &str| {
        std::fs::read(dir.join(format!(
            "export-{name}/unet/diffusion_pytorch_model.safetensors"
        )))
        .unwrap()
    };
    assert!(dir.join("export-resumed/unet/config.json").is_file());
    let base =
        std::fs::read(root().join(
            "adt-models/sd15/tests/fixtures/tiny_sd15/unet/diffusion_pytorch_model.safetensors",
        ))
        .unwrap();
    assert!(weights("resumed") != base, "export wrote the base weights");

    // --dtype f16: every tensor of the f32 export rounded to half, in half the bytes.
    run(adt()
        .args(["export", "--step", "4", "--dtype", "f16", "--out"])
        .arg(dir.join("export-f16"))
        .arg(dir.join("run")));
    assert_rounded_copy(
        &dir.join("export-resumed/unet/diffusion_pytorch_model.safetensors"),
        &dir.join("export-f16/unet/diffusion_pytorch_model.safetensors"),
        burn::tensor::DType::F16,
    );
    assert!(
        weights("f16").len() * 10 < weights("resumed").len() * 6,
        "the f16 file is not about half the f32 one"
    );

    let samples = dir.join("samples");
    run(adt()
        .args(["sample", "a red disc", "a blue disc", "--model"])
        .arg(root().join("adt-models/sd15/tests/fixtures/tiny_sd15"))
        .arg("--unet")
        .arg(dir.join("export-resumed/unet"))
        .args([
            "--steps", "3", "--cfg", "4", "--seed", "5", "--batch", "2", "--out",
        ])
        .arg(&samples));
    for f in ["0000-seed5.png", "0001-seed6.png", "samples.jsonl"] {
        assert!(samples.join(f).is_file(), "missing {f}");
    }
    let img = image::open(samples.join("0000-seed5.png")).unwrap();
    assert_eq!((img.width(), img.height()), (32, 32));
    let log = std::fs::read_to_string(samples.join("samples.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(log.contains("\"seed\":6"), "{log}");
}

#[test]
fn bad_configs_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "run");
    let err = |extra: &[&str]| {
        let out = adt()
            .args(["train", "--plain", "--config"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success());
        format!("{:#}", String::from_utf8_lossy(&out.stderr))
    };
    let e = err(&["--set", "adt.sampler=plms"]);
    assert!(e.contains("unknown sampler `plms`"), "{e}");
    let e = err(&["--set", "adt.no_such_knob=1"]);
    assert!(e.contains("no_such_knob"), "{e}");
    let e = err(&["--set", "adt.m=0"]);
    assert!(e.contains("m"), "{e}");
    let e = err(&["--set", "validation.prompts=[]"]);
    assert!(e.contains("no prompts"), "{e}");
    // Data root without images: the dataset error names the metadata file.
    let e = err(&[]);
    assert!(e.contains("metadata.jsonl"), "{e}");
}

#[test]
fn cached_latents_are_built_once_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"));
    let mut text = std::fs::read_to_string(config(dir, "a")).unwrap();
    text.push_str(
        "\n[cache]\ndir = \"cache\"\nshard_size = 5\nencode_batch_size = 4\nprogress = \"plain\"\n",
    );
    let cfg = dir.join("cached.toml");
    std::fs::write(&cfg, text).unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["--set", "adt.total_steps=2", "--set", "validation.every=0"];
        args.extend_from_slice(extra);
        run(adt()
            .args(["train", "--plain", "--config"])
            .arg(&cfg)
            .args(&args))
    };
    let first = train(&[]);
    assert!(
        first.contains("reused: false") && first.contains("records_encoded: 14"),
        "{first}"
    );
    let second = train(&["--set", "out=\"b\""]);
    assert!(
        second.contains("reused: true") && second.contains("records_encoded: 0"),
        "{second}"
    );
    // A different VAE/text encoder or preprocessing gets its own cache; here: another resolution.
    let third = train(&["--set", "out=\"c\"", "--set", "data.buckets.resolution=24"]);
    assert!(third.contains("reused: false"), "{third}");
    let caches = std::fs::read_dir(dir.join("cache")).unwrap().count();
    assert_eq!(caches, 2, "expected one cache per key");
}

#[test]
fn without_a_sampler_an_sd15_run_trains_with_ddim_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"));
    let cfg = config_for(
        dir,
        "run",
        &root().join("adt-models/sd15/tests/fixtures/tiny_sd15"),
        None,
    );
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args(["--set", "adt.total_steps=1", "--set", "validation.every=0"]));
    assert!(
        log.contains("training with `ddim`")
            && log.contains("the engine cannot step the checkpoint's PNDMScheduler"),
        "{log}"
    );
    let resolved = std::fs::read_to_string(dir.join("run/train.toml")).unwrap();
    assert!(resolved.contains("sampler = \"ddim\""), "{resolved}");
}
