//! `adt export`: the tuned denoiser of a run's checkpoint → diffusers layout (`OUT/unet/` for
//! the UNet families), loadable by diffusers' `from_pretrained` and by `adt sample --unet`;
//! for a LoRA run its adapters as a LoRA file (diffusers/PEFT or kohya) or merged weights.

use std::path::{Path, PathBuf};

use adt_family::Family;
use adt_family::adapters::ComponentDenoiser;
use adt_family::lora::{LoraFormat, PEFT_FILE, lora_layers, write_lora};
use adt_plugin::checkpoint::{CheckpointDir, GeneratorWeights, Stored, load_generator};
use adt_plugin::lora::{LoraConfig, adapters, apply_lora};
use adt_plugin::precision::compute_copy;
use adt_plugin::rng::EngineRng;
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::DType;

/// The dtype of the exported tensors (`adt export --dtype`). Training keeps f32 master
/// weights; a half-precision file is half the size and what most users load anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportDtype {
    /// As trained.
    #[default]
    F32,
    /// IEEE half (diffusers' `torch_dtype=torch.float16`).
    F16,
    /// bfloat16.
    Bf16,
}

impl ExportDtype {
    /// The burn dtype to cast to, `None` for f32 (written as stored).
    pub fn dtype(self) -> Option<DType> {
        match self {
            Self::F32 => None,
            Self::F16 => Some(DType::F16),
            Self::Bf16 => Some(DType::BF16),
        }
    }
}

/// What `adt export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// The whole denoiser, `OUT/<subfolder>/` (a full fine-tune).
    Full,
    /// A LoRA run's adapters as one LoRA file: `OUT/pytorch_lora_weights.safetensors`
    /// (PEFT, what diffusers' `load_lora_weights(OUT)` reads) or `OUT/<run name>.safetensors`
    /// (kohya).
    Lora(LoraFormat),
    /// A LoRA run's adapters merged into the base weights, `OUT/<subfolder>/`.
    MergedLora,
}

use super::run_config;
use crate::family::FamilyJob;

/// What [`export_denoiser`] wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The checkpoint step exported.
    pub step: usize,
    /// The weights file it came from (`ema.bpk` or `model.bpk`).
    pub weights: PathBuf,
    /// What was written: the diffusers component folder (`config.json` + weights) or the
    /// LoRA file.
    pub written: PathBuf,
}

/// Export the denoiser of `run_dir`'s checkpoint `step` (default: the latest) into `out` as
/// `kind` says (`out/unet/` for SD1.x and SDXL, `out/transformer/` for SD3), its tensors in
/// `dtype`.
pub fn export_denoiser(
    run_dir: &Path,
    step: Option<usize>,
    which: GeneratorWeights,
    kind: ExportKind,
    dtype: ExportDtype,
    out: &Path,
    device: &Device,
) -> Result<ExportReport> {
    let config = run_config(run_dir)?;
    let lora = config.adt.lora.clone();
    match (&lora, kind) {
        (Some(_), ExportKind::Full) => bail!(
            "{} trained LoRA adapters ([adt.lora]): export them with --lora (a LoRA file) or \
             --merge-lora (full weights with the adapters merged in)",
            run_dir.display()
        ),
        (None, ExportKind::Lora(_) | ExportKind::MergedLora) => bail!(
            "{} trained every weight (no [adt.lora]): it has no adapters; export it without \
             --lora / --merge-lora",
            run_dir.display()
        ),
        _ => {}
    }
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
    let run_name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "lora".into());
    let job = ExportJob {
        spec: &spec,
        dir: &dir,
        which,
        kind,
        dtype,
        lora: lora.as_ref(),
        run_name: &run_name,
        out,
        device,
    };
    let (weights, written) = spec.family().context("[model]")?.run(job)?;
    Ok(ExportReport {
        step,
        weights,
        written,
    })
}

struct ExportJob<'a> {
    spec: &'a crate::family::ModelSpec,
    dir: &'a Path,
    which: GeneratorWeights,
    kind: ExportKind,
    dtype: ExportDtype,
    lora: Option<&'a LoraConfig>,
    run_name: &'a str,
    out: &'a Path,
    device: &'a Device,
}

impl FamilyJob for ExportJob<'_> {
    type Output = Result<(PathBuf, PathBuf)>;

    fn run<F: Family>(self) -> Self::Output {
        // The base model gives the architecture (and the config written next to the weights).
        let base = self.spec.load::<F>(self.device)?;
        let mut denoiser = base.denoiser;
        if let Some(lora) = self.lora {
            // The same adapters as the run (their values come from the checkpoint).
            denoiser = apply_lora(denoiser, lora, &mut EngineRng::new(0))?;
        }
        let stored = if self.lora.is_some() {
            Stored::Adapters
        } else {
            Stored::All
        };
        let (denoiser, weights) = load_generator(denoiser, self.dir, self.which, stored)?;
        let subfolder = <F::Denoiser as ComponentDenoiser>::SUBFOLDER;
        let written = match self.kind {
            ExportKind::Full | ExportKind::MergedLora => {
                let dir = self.out.join(subfolder);
                let denoiser = denoiser.materialize();
                let denoiser = match self.dtype.dtype() {
                    Some(d) => compute_copy(&denoiser, d),
                    None => denoiser,
                };
                denoiser
                    .save_pretrained(&dir)
                    .with_context(|| format!("writing {}", dir.display()))?;
                dir
            }
            ExportKind::Lora(format) => {
                let lora = self.lora.expect("checked: a LoRA run");
                let mut layers = lora_layers::<F::Denoiser>(&adapters(&denoiser), lora.alpha())?;
                if let Some(d) = self.dtype.dtype() {
                    for layer in layers.values_mut() {
                        layer.down = layer.down.clone().convert_dtype(d);
                        layer.up = layer.up.clone().convert_dtype(d);
                    }
                }
                let file = match format {
                    LoraFormat::Peft => self.out.join(PEFT_FILE),
                    LoraFormat::Kohya => self.out.join(format!("{}.safetensors", self.run_name)),
                };
                write_lora::<F::Denoiser>(&layers, format, &file)
                    .with_context(|| format!("writing {}", file.display()))?;
                file
            }
        };
        Ok((weights, written))
    }
}
