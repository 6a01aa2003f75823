//! `adt export`: the tuned UNet of a run's checkpoint → diffusers layout, loadable by
//! diffusers' `UNet2DConditionModel.from_pretrained` and by `adt sample --unet`.

use std::path::{Path, PathBuf};

use adt_plugin::checkpoint::{CheckpointDir, GeneratorWeights, load_generator};
use anyhow::{Context, Result, bail};
use burn::prelude::*;

use super::{load_base, run_config};

/// What [`export_unet`] wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The checkpoint step exported.
    pub step: usize,
    /// The weights file it came from (`ema.bpk` or `model.bpk`).
    pub weights: PathBuf,
    /// The diffusers folder written (`config.json` + `diffusion_pytorch_model.safetensors`).
    pub unet_dir: PathBuf,
}

/// Export the UNet of `run_dir`'s checkpoint `step` (default: the latest) into `out/unet/`.
pub fn export_unet(
    run_dir: &Path,
    step: Option<usize>,
    which: GeneratorWeights,
    out: &Path,
    device: &Device,
) -> Result<ExportReport> {
    let config = run_config(run_dir)?;
    let ckpt = CheckpointDir::new(run_dir);
    let (step, dir) = match step {
        Some(s) => {
            let dir = ckpt.step_dir(s);
            if !dir.join(adt_plugin::checkpoint::files::STATE).is_file() {
                let have: Vec<usize> = ckpt.list().into_iter().map(|(s, _)| s).collect();
                bail!(
                    "{}: no complete checkpoint of step {s} (have {have:?})",
                    run_dir.display()
                );
            }
            (s, dir)
        }
        None => ckpt
            .latest()
            .with_context(|| format!("{}: no checkpoint to export yet", run_dir.display()))?,
    };
    // The base model gives the architecture (and the config written next to the weights).
    let base = load_base(&config.model, device)?;
    let (denoiser, weights) = load_generator(base.denoiser, &dir, which)?;
    let unet_dir = out.join("unet");
    denoiser
        .unet
        .save_pretrained(&unet_dir)
        .with_context(|| format!("writing {}", unet_dir.display()))?;
    Ok(ExportReport {
        step,
        weights,
        unet_dir,
    })
}
