//! SD3 through the CLI, on the tiny pipeline of `adt-models/sd3/tests/fixtures`
//! (`scripts/fixtures/sd3.py`):
//! - `adt train` (no `[adt] sampler`: the checkpoint's flow Euler; logit-normal timesteps,
//!   cosmap weighting, CFG inside the loop) → `adt resume` → `adt export` (a `transformer/`
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
        .args(["--set", "adt.timestep_sampling=\"logit_normal\""])
        .args(["--set", "adt.loss_weighting=\"cosmap\""]));
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
