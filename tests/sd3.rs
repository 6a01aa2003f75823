//! SD3 through the CLI, on the tiny pipeline of `adt-models/sd3/tests/fixtures`
//! (`scripts/fixtures/sd3.py`):
//! - `adt train` (no `[adt] sampler`: the checkpoint's flow Euler; `mode` timesteps, cosmap
//!   weighting, preconditioned outputs, a 32-token T5, CFG inside the loop) → `adt resume` → `adt export` (a `transformer/`
//!   folder) → `adt sample` with the tuned transformer;
//! - `adt sample --noise … --save-latents` (default sampler: the checkpoint's flow Euler)
//!   reproduces diffusers' `StableDiffusion3Pipeline`;
//! - the family comes from `model_index.json`; a long prompt is warned about by name;
//!   `--transformer` swaps in another transformer.

use std::path::PathBuf;

use adt::family::FamilyKind;
use adt::models::common::ModelSource;
use adt::models::common::tensor_io::read_tensors;

use crate::cli_train::{adt, config_for, root, run};
use crate::sdxl::{dataset, resume_export_and_sample_tuned, sample_matches};

fn sd3_dir() -> PathBuf {
    root().join("adt-models/sd3/tests/fixtures/tiny_sd3")
}

#[test]
fn sd3_train_resume_export_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"), 8);
    let cfg = config_for(dir, "run", &sd3_dir(), None);
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args(["--set", "adt.total_steps=3", "--set", "adt.cfg_scale=2.0"])
        .args(["--set", "adt.timestep_sampling=\"mode\""])
        .args(["--set", "adt.loss_weighting=\"cosmap\""])
        .args(["--set", "model.max_sequence_length=32"]));
    assert!(
        log.contains("training with `flow-euler`")
            && log.contains("FlowMatchEulerDiscreteScheduler"),
        "the checkpoint's own sampler was not chosen:\n{log}"
    );
    assert!(log.contains("(sd3;"), "{log}");
    let run_dir = dir.join("run");
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"family\":\"sd3\""), "{events}");
    assert!(run_dir.join("samples/step-000002.png").is_file());

    resume_export_and_sample_tuned(dir, &run_dir, &sd3_dir(), "transformer");
}

#[test]
fn sample_with_given_noise_reproduces_diffusers_sd3() {
    let fx = root().join("adt-models/sd3/tests/fixtures");
    let io = read_tensors(&fx.join("io.safetensors")).unwrap();
    let prompts = [
        "a red circle on a blue background",
        "Two small green SQUARES, top left!",
    ];
    // No --sampler: the checkpoint's own FlowMatchEulerDiscreteScheduler (shift 3).
    let args = [
        "--negative",
        "blurry",
        "--cfg",
        "4",
        "--steps",
        "4",
        "--width",
        "64",
        "--height",
        "48",
    ];
    sample_matches("sd3", &sd3_dir(), &io, "sd3", 0..2, &prompts, &args);
    assert_eq!(
        FamilyKind::of_pipeline(&ModelSource::Local(sd3_dir())).unwrap(),
        FamilyKind::Sd3
    );
}

#[test]
fn a_prompt_longer_than_max_sequence_length_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let long = format!("{}end", "a red circle ".repeat(100));
    let out = adt()
        .args(["sample", &long, "--model"])
        .arg(sd3_dir())
        // `--transformer` (an alias of `--unet`): the SD3.5-style transformer of the fixtures.
        .arg("--transformer")
        .arg(root().join("adt-models/sd3/tests/fixtures/sd35_transformer"))
        .args(["--steps", "1", "--width", "32", "--height", "32", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("max_sequence_length = 256"),
        "{stderr}"
    );
}

#[test]
fn a_single_files_family_comes_from_its_keys_and_it_needs_a_config_source() {
    let fx = root().join("adt-models/sd3/tests/fixtures");
    let file = fx.join("tiny_sd3.safetensors");
    assert_eq!(FamilyKind::of_single_file(&file).unwrap(), FamilyKind::Sd3);
    // No --model: the message names the family and its reference repo.
    let out = adt()
        .args(["sample", "x", "--single-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("needs --model")
            && stderr.contains("stabilityai/stable-diffusion-3-medium-diffusers")
            && stderr.contains("(sd3)"),
        "{stderr}"
    );
    // With it, no --family needed.
    let tmp = tempfile::tempdir().unwrap();
    run(adt()
        .args(["sample", "a red disc", "--single-file"])
        .arg(&file)
        .arg("--model")
        .arg(sd3_dir())
        .args(["--steps", "1", "--width", "32", "--height", "32", "--out"])
        .arg(tmp.path()));
    let log = std::fs::read_to_string(tmp.path().join("samples.jsonl")).unwrap();
    assert!(log.contains("\"family\":\"sd3\""), "{log}");
    // A file no family claims.
    let t5 = fx.join("t5_fp8.safetensors");
    let e = format!("{:#}", FamilyKind::of_single_file(&t5).unwrap_err());
    assert!(
        e.contains("cannot tell the model family") && e.contains("joint_blocks"),
        "{e}"
    );
}

#[test]
fn max_sequence_length_is_checked_and_eval_defaults_to_flow_euler() {
    let out = adt()
        .args(["sample", "x", "--model"])
        .arg(sd3_dir())
        .args(["--max-sequence-length", "600"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("max_sequence_length") && stderr.contains("512"),
        "{stderr}"
    );
    // SD1.5 has no T5 to set it for.
    let out = adt()
        .args(["sample", "x", "--model"])
        .arg(root().join("adt-models/sd15/tests/fixtures/tiny_sd15"))
        .args(["--max-sequence-length", "77"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no T5 encoder"));

    // `adt eval` without --samplers: the flow checkpoint's own sampler.
    let tmp = tempfile::tempdir().unwrap();
    run(adt()
        .args(["eval", "--model"])
        .arg(sd3_dir())
        .arg("--features")
        .arg(root().join("assets/shapes/dinov2_eval"))
        .args([
            "--n", "4", "--batch", "4", "--steps", "2", "--seeds", "0", "--cfg", "1",
        ])
        .arg("--out")
        .arg(tmp.path()));
    let csv = std::fs::read_to_string(tmp.path().join("eval.csv")).unwrap();
    assert!(csv.contains("flow-euler") && !csv.contains("ddim"), "{csv}");
}
