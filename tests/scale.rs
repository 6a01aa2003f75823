//! The real-scale options through `adt train` on every family's tiny pipeline: bf16
//! compute (the denoiser, the VAE and the DINOv2 backbone), gradient checkpointing, gradient
//! accumulation and LoRA together, each family (SD1.5's UNet, SDXL's with added conditions,
//! SD3's MMDiT and 16-channel VAE) training and resuming with them.

use std::path::Path;

use crate::cli_train::{adt, config_for, root, run};
use crate::sdxl::dataset;

fn train_with_every_saver(model: &Path, sampler: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(&dir.join("data"), 8);
    let cfg = config_for(dir, "run", model, sampler);
    let log = run(adt()
        .args(["train", "--plain", "--config"])
        .arg(&cfg)
        .args([
            "--set",
            "adt.total_steps=2",
            "--set",
            "adt.precision=\"bf16\"",
            "--set",
            "adt.vae_precision=\"bf16\"",
            "--set",
            "adt.backbone_precision=\"bf16\"",
        ])
        .args([
            "--set",
            "adt.gradient_checkpointing=true",
            "--set",
            "adt.grad_accum=2",
        ])
        .args(["--set", "adt.batch_size=2", "--set", "adt.lora.rank=2"])
        .args(["--set", "adt.cfg_scale=2.0", "--set", "validation.every=0"]));
    assert!(log.contains("finished at step 2"), "{log}");
    assert!(!log.contains("non-finite"), "{log}");
    let run_dir = dir.join("run");
    let resolved = std::fs::read_to_string(run_dir.join("train.toml")).unwrap();
    assert!(
        resolved.contains("precision = \"bf16\"") && resolved.contains("grad_accum = 2"),
        "{resolved}"
    );
    // Two micro-batches of 2 per step: 8 images are 2 steps (the data position says so).
    let state = std::fs::read_to_string(run_dir.join("checkpoints/step-2/state.json")).unwrap();
    assert!(state.contains("\"batches_consumed\": 4"), "{state}");
    run(adt()
        .args(["resume", "--plain", "--total-steps", "3"])
        .arg(&run_dir));
    assert!(run_dir.join("checkpoints/step-3/state.json").is_file());
}

#[test]
fn sd15_trains_with_bf16_checkpointing_accumulation_and_lora() {
    train_with_every_saver(
        &root().join("adt-models/sd15/tests/fixtures/tiny_sd15"),
        Some("ddim"),
    );
}

#[test]
fn sdxl_trains_with_bf16_checkpointing_accumulation_and_lora() {
    train_with_every_saver(
        &root().join("adt-models/sdxl/tests/fixtures/tiny_sdxl"),
        None,
    );
}

#[test]
fn sd3_trains_with_bf16_checkpointing_accumulation_and_lora() {
    train_with_every_saver(&root().join("adt-models/sd3/tests/fixtures/tiny_sd3"), None);
}
