//! SD3 through the CLI, on the tiny pipeline of `adt-models/sd3/tests/fixtures`
//! (`scripts/fixtures/sd3.py`):
//! - `adt train` (no `[adt] sampler`: the checkpoint's flow Euler; logit-normal timesteps,
//!   cosmap weighting, CFG inside the loop) → `adt resume` → `adt export` (a `transformer/`
//!   folder) → `adt sample --transformer`;
//! - `adt sample --noise … --save-latents` (default sampler: the checkpoint's flow Euler)
//!   reproduces diffusers' `StableDiffusion3Pipeline`;
//! - the family comes from `model_index.json`; a long prompt is warned about by name.

use std::path::{Path, PathBuf};

use adt::family::FamilyKind;
use adt::models::common::ModelSource;
use adt::models::common::tensor_io::read_tensors;
use adt::models::common::testing::max_abs_diff;

use crate::cli_train::{adt, config_for, root, run};
use crate::sdxl::{dataset, sample_matches};

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

    run(adt()
        .args(["resume", "--plain", "--total-steps", "4"])
        .arg(&run_dir));
    assert!(run_dir.join("checkpoints/step-4/model.bpk").is_file());
    let export = dir.join("export");
    let log = run(adt().arg("export").arg(&run_dir).arg("--out").arg(&export));
    assert!(log.contains("exported step 4"), "{log}");
    assert!(export.join("transformer/config.json").is_file());

    // The tuned transformer samples, and differs from the base.
    let sample = |transformer: Option<&Path>, out: &str| {
        let mut cmd = adt();
        cmd.args(["sample", "a red disc", "--model"])
            .arg(sd3_dir())
            .args([
                "--steps", "2", "--cfg", "3", "--width", "32", "--height", "32",
            ])
            .args(["--save-latents", "--out"])
            .arg(dir.join(out));
        if let Some(t) = transformer {
            cmd.arg("--transformer").arg(t);
        }
        run(&mut cmd);
        read_tensors(&dir.join(out).join("latents.safetensors")).unwrap()["latents"].clone()
    };
    let tuned = sample(Some(&export.join("transformer")), "tuned");
    let base = sample(None, "base");
    assert!(
        max_abs_diff(&tuned, &base) > 1e-4,
        "the exported transformer samples like the base"
    );
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
