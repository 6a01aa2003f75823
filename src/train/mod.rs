//! The `adt train` / `adt resume` / `adt export` jobs for every model family: a typed run
//! config ([`TrainConfig`]), the data loader, validation grids, and the run itself. The job
//! is written once, generic over [`Family`]; [`train`] picks the family from the config.

mod cache;
mod config;
mod export;
mod loader;
mod validation;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adt_data::ImageCaptionDataset;
use adt_dinov2::{BackboneConfig, Dinov2Backbone, Dinov2Model};
use adt_family::adapters::{
    ComponentDenoiser, Dinov2Discriminator, LatentCodec, SchedulerSampler, training_schedule,
};
use adt_family::{Family, Model, Tuning};
use adt_models_common::ModelSource;
use adt_plugin::events::RunStatus;
use adt_plugin::traits::Conditioner;
use adt_plugin::{AdtTrainer, Components, Parts};
use adt_schedulers::SamplerName;
use adt_tui::live::{AdtRenderer, LiveOptions};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;

use crate::family::{FamilyJob, FamilyKind};

pub use cache::{module_hash, open_cache};
pub use config::{
    DiscriminatorSection, ModelSection, TrainConfig, ValidationSection, apply_override, merge,
};
pub use export::{ExportDtype, ExportKind, ExportReport, export_denoiser};
pub use loader::BucketLoader;
pub use validation::ValidationPlan;

/// The run directory's copy of the resolved config, read by `adt resume` and `adt export`.
pub const TRAIN_CONFIG_FILE: &str = "train.toml";

/// How to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// The dashboard when stdout is a terminal, else plain lines.
    Auto,
    /// Plain progress lines.
    Plain,
}

/// How a [`train`] call ended.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// The family trained.
    pub family: FamilyKind,
    /// Last finished step.
    pub step: usize,
    pub status: RunStatus,
    pub run_dir: PathBuf,
}

/// Run (or, with `resume`, continue) the training job `config` on `devices` (plain devices,
/// the first the main one, more than one data parallel; the autodiff wrapper is added here),
/// for the family its `[model]` names.
pub fn train(
    config: &TrainConfig,
    resume: bool,
    devices: &[Device],
    display: Display,
) -> Result<TrainSummary> {
    let family = config.model.spec().family().context("[model]")?;
    let step_status = family.run(TrainJob {
        config,
        resume,
        devices,
        display,
    })?;
    Ok(TrainSummary {
        family,
        step: step_status.0,
        status: step_status.1,
        run_dir: config.out.clone(),
    })
}

struct TrainJob<'a> {
    config: &'a TrainConfig,
    resume: bool,
    devices: &'a [Device],
    display: Display,
}

impl FamilyJob for TrainJob<'_> {
    type Output = Result<(usize, RunStatus)>;

    fn run<F: Family>(self) -> Self::Output {
        train_family::<F>(self.config, self.resume, self.devices, self.display)
    }
}

fn train_family<F: Family>(
    config: &TrainConfig,
    resume: bool,
    devices: &[Device],
    display: Display,
) -> Result<(usize, RunStatus)> {
    let device = devices.first().context("no training device")?;
    let run_dir = config.out.clone();
    if !resume && run_dir.join("checkpoints").is_dir() {
        bail!(
            "{} already holds checkpoints: continue it with `adt resume {}` or choose another `out`",
            run_dir.display(),
            run_dir.display()
        );
    }
    let training_device = |d: &Device| {
        if config.adt.gradient_checkpointing {
            d.clone().autodiff().gradient_checkpointing()
        } else {
            d.clone().autodiff()
        }
    };
    let ad = training_device(device);
    let base: Model<F> = config.model.spec().load(&ad)?;
    let mut config = config.clone();
    let sampler = training_sampler(&mut config, &base)?;
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    write_atomic(
        &run_dir.join(TRAIN_CONFIG_FILE),
        config.to_toml().as_bytes(),
    )?;

    let scheduler = base.scheduler.config(sampler)?;
    let backbone = load_backbone(&config.discriminator, &ad)?;
    let opened = config.data.open().context("[data]")?;
    if !opened.report.bad.is_empty() {
        eprintln!("data: {}", opened.report);
    }
    let dataset = Arc::new(opened.train);
    check_sizes(&dataset, &base)?;
    warn_truncated_captions(&dataset, &base);
    let mut loader = BucketLoader::new(dataset.clone(), config.adt.batch_size, 2, &ad)
        .context("[data] batching")?;
    if let Some(opts) = &config.cache {
        let codec = base.codec.clone().valid();
        let conditioner = base.conditioner.clone().valid();
        loader = loader.with_cache(open_cache::<F>(
            opts,
            &dataset,
            &codec,
            &conditioner,
            device,
        )?);
    }
    eprintln!(
        "adt train: {} ({}; {} records, {} batches/epoch) → {}",
        base.source,
        F::NAME,
        dataset.records().len(),
        loader.batches_per_epoch(),
        run_dir.display()
    );

    let validation = validation_plan(&config, &base, sampler, device)?;
    let mut adt = config.adt.clone();
    if adt.model == adt_plugin::AdtConfig::default().model {
        // `model` is informational (run_start, dashboard header): name the checkpoint.
        adt.model = config.model.source.clone();
    }
    let parts: Parts<Tuning<F>> = Parts {
        generator: base.denoiser,
        codec: base.codec,
        conditioner: base.conditioner,
        backbone,
        schedule: training_schedule(&scheduler)?,
        sampler: Arc::new(SchedulerSampler::new(sampler, scheduler)?),
    };
    let mut trainer = AdtTrainer::new(adt, parts, Arc::new(loader), &ad)?
        .on_devices(devices[1..].iter().map(training_device).collect())?
        .with_family(F::NAME)
        .resume(resume);
    if devices.len() > 1 {
        eprintln!(
            "data parallel on {} devices: {} micro-batches of {} per step",
            devices.len(),
            devices.len() * config.adt.grad_accum,
            config.adt.batch_size
        );
    }
    if let Some(plan) = validation {
        eprintln!(
            "validation every {} steps: {}",
            config.validation.every,
            plan.describe()
        );
        trainer =
            trainer.validate_every(config.validation.every, move |step, g| plan.render(step, g));
    }
    let total = config.adt.total_steps;
    let trainer = with_display(trainer, &run_dir, Some(total), display);
    let report = trainer.run(&run_dir)?;
    let verb = match report.status {
        RunStatus::Finished => "finished",
        RunStatus::Interrupted => "interrupted (resume with `adt resume`)",
        RunStatus::Failed | RunStatus::Unknown => "failed",
    };
    println!(
        "{verb} at step {}; run directory: {}",
        report.step,
        run_dir.display()
    );
    Ok((report.step, report.status))
}

/// The training sampler: `[adt] sampler`, else the checkpoint's own scheduler where the engine
/// can step it, else DDIM (said at start). The resolved name is written back into `config`, so
/// `train.toml`, `config.toml` and `run_start` name it.
fn training_sampler<F: Family>(config: &mut TrainConfig, base: &Model<F>) -> Result<SamplerName> {
    let name = match &config.adt.sampler {
        Some(s) => s.parse().map_err(anyhow::Error::msg)?,
        None => {
            let (name, why) = base
                .scheduler
                .training_sampler()
                .context("reading the checkpoint's scheduler config")?;
            eprintln!("adt train: [adt] sampler not set; training with `{name}`, {why}");
            name
        }
    };
    config.adt.sampler = Some(name.to_string());
    Ok(name)
}

/// Attach the dashboard (stdout is a terminal and `display` is `Auto`) or plain progress lines.
pub fn with_display<K: Components>(
    trainer: AdtTrainer<K>,
    run_dir: &Path,
    total: Option<usize>,
    display: Display,
) -> AdtTrainer<K> {
    if display == Display::Auto && std::io::stdout().is_terminal() {
        let renderer = AdtRenderer::new(LiveOptions {
            run_dir: Some(run_dir.to_path_buf()),
            interrupter: Some(trainer.interrupter()),
            ..Default::default()
        });
        trainer.with_renderer(Box::new(renderer))
    } else {
        trainer.on_step(move |step, m| println!("{}", m.progress_line(step, total)))
    }
}

/// One prompt per line; blank lines and `#` comments skipped; the error names the file.
pub fn read_prompt_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading prompt file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// The resolved config of an existing run directory.
pub fn run_config(run_dir: &Path) -> Result<TrainConfig> {
    let path = run_dir.join(TRAIN_CONFIG_FILE);
    if !path.is_file() {
        bail!(
            "{} has no {TRAIN_CONFIG_FILE}: not a run directory written by `adt train`",
            run_dir.display()
        );
    }
    let mut config = TrainConfig::from_resolved_file(&path)?;
    // The folder may have moved since: the run lives where it is now.
    config.out = run_dir.to_path_buf();
    Ok(config)
}

fn load_backbone(section: &DiscriminatorSection, device: &Device) -> Result<Dinov2Discriminator> {
    let source = ModelSource::parse(&section.backbone);
    let model = Dinov2Model::from_pretrained(&source, device)
        .with_context(|| format!("loading the discriminator backbone {}", source.describe()))?;
    let layers = model.config().num_hidden_layers;
    let backbone = Dinov2Backbone::new(
        model,
        BackboneConfig {
            input_size: section.input_size,
            ..Default::default()
        },
    )?;
    let taps = if section.taps.is_empty() {
        Dinov2Discriminator::default_taps(layers)
    } else {
        section.taps.clone()
    };
    Ok(Dinov2Discriminator::new(backbone, taps)?)
}

/// How many captions the start-up truncation check reads (tokenizing millions would delay
/// the start by minutes).
const CAPTION_CHECK: usize = 10_000;

/// Say how many of the first [`CAPTION_CHECK`] captions the text encoders will cut, with the
/// first few warnings (they name the limit).
fn warn_truncated_captions<F: Family>(dataset: &ImageCaptionDataset, base: &Model<F>) {
    let records = dataset.records();
    let captions: Vec<String> = records
        .iter()
        .take(CAPTION_CHECK)
        .map(|r| r.caption.clone())
        .collect();
    let warnings = base.conditioner.prompt_warnings(&captions);
    if warnings.is_empty() {
        return;
    }
    eprintln!(
        "warning: {} truncation(s) among the first {} of {} captions (prompt N = caption N), e.g.:",
        warnings.len(),
        captions.len(),
        records.len()
    );
    for w in warnings.iter().take(3) {
        eprintln!("  {w}");
    }
}

/// Every bucket is a whole number of latent cells the denoiser takes (the MMDiT: whole
/// patches within its position table).
fn check_sizes<F: Family>(dataset: &ImageCaptionDataset, base: &Model<F>) -> Result<()> {
    let downscale = base.codec.downscale();
    for b in dataset.buckets().sizes() {
        let (w, h) = (b.0 as usize, b.1 as usize);
        if !w.is_multiple_of(downscale) || !h.is_multiple_of(downscale) {
            bail!(
                "[data.buckets] bucket {w}x{h} is not a multiple of the VAE's downscale {downscale}"
            );
        }
        base.denoiser
            .check_latent_size(h / downscale, w / downscale)
            .with_context(|| format!("[data.buckets] bucket {w}x{h}"))?;
    }
    Ok(())
}

fn validation_plan<F: Family>(
    config: &TrainConfig,
    base: &Model<F>,
    train_sampler: SamplerName,
    device: &Device,
) -> Result<Option<ValidationPlan<F>>> {
    let v = &config.validation;
    if v.every == 0 {
        return Ok(None);
    }
    let mut prompts = v.prompts.clone();
    if let Some(file) = &v.prompt_file {
        prompts.extend(read_prompt_file(file).context("[validation] prompt_file")?);
    }
    for w in base.conditioner.prompt_warnings(&prompts) {
        eprintln!("warning: [validation] {w}");
    }
    let sampler = match &v.sampler {
        Some(s) => s.parse().map_err(anyhow::Error::msg)?,
        None => train_sampler,
    };
    let size = v.size.unwrap_or(config.data.buckets.resolution as usize);
    let f = base.codec.downscale();
    if size == 0 || !size.is_multiple_of(f) {
        bail!("[validation] size {size} must be a positive multiple of the VAE's downscale {f}");
    }
    base.denoiser
        .check_latent_size(size / f, size / f)
        .with_context(|| format!("[validation] size {size}"))?;
    Ok(Some(ValidationPlan {
        run_dir: config.out.clone(),
        prompts,
        negative: v.negative_prompt.clone(),
        seed: v.seed,
        sampler,
        scheduler: base.scheduler.config(sampler)?,
        steps: v.steps.unwrap_or(config.adt.m),
        cfg: v.cfg,
        size,
        columns: v.columns,
        codec: base.codec.clone().valid(),
        conditioner: base.conditioner.clone().valid(),
        device: device.clone(),
    }))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    adt_models_common::tensor_io::write_atomic(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}
