//! `adt export`: the tuned denoiser of a run's checkpoint → diffusers layout (`OUT/unet/` for
//! the UNet families), loadable by diffusers' `from_pretrained` and by `adt sample --unet`.

use std::path::{Path, PathBuf};

use adt_family::Family;
use adt_family::adapters::ComponentDenoiser;
use adt_plugin::checkpoint::{CheckpointDir, GeneratorWeights, load_generator};
use anyhow::{Context, Result, bail};
use burn::prelude::*;

use super::run_config;
use crate::family::FamilyJob;

/// What [`export_denoiser`] wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The checkpoint step exported.
    pub step: usize,
    /// The weights file it came from (`ema.bpk` or `model.bpk`).
    pub weights: PathBuf,
    /// The diffusers component folder written (`config.json` + weights).
    pub dir: PathBuf,
}

/// Export the denoiser of `run_dir`'s checkpoint `step` (default: the latest) into
/// `out/<subfolder>/` (`out/unet/` for SD1.x and SDXL).
pub fn export_denoiser(
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
    let spec = config.model.spec();
    let job = ExportJob {
        spec: &spec,
        dir: &dir,
        which,
        out,
        device,
    };
    let (weights, dir) = spec.family().context("[model]")?.run(job)?;
    Ok(ExportReport { step, weights, dir })
}

struct ExportJob<'a> {
    spec: &'a crate::family::ModelSpec,
    dir: &'a Path,
    which: GeneratorWeights,
    out: &'a Path,
    device: &'a Device,
}

impl FamilyJob for ExportJob<'_> {
    type Output = Result<(PathBuf, PathBuf)>;

    fn run<F: Family>(self) -> Self::Output {
        // The base model gives the architecture (and the config written next to the weights).
        let base = self.spec.load::<F>(self.device)?;
        let (denoiser, weights) = load_generator(base.denoiser, self.dir, self.which)?;
        let dir = self.out.join(<F::Denoiser as ComponentDenoiser>::SUBFOLDER);
        denoiser
            .save_pretrained(&dir)
            .with_context(|| format!("writing {}", dir.display()))?;
        Ok((weights, dir))
    }
}
