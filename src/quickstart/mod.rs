//! The main job on the embedded default, end to end on the CPU with no downloads:
//!
//! 1. checks the shipped weights (`assets/shapes`, SHA-256 manifest);
//! 2. writes procedural shapes images with captions as an image folder (`<out>/data`);
//! 3. tunes the shipped tiny SD-architecture UNet twice on that data with the same steps,
//!    seed and config (`examples/configs/shapes-quickstart.toml`): plain fine-tuning
//!    (L_diff only) and ADT, with the dashboard (plain progress lines without a terminal);
//! 4. evaluates base, plain fine-tune and ADT (Fréchet distance to held-out images in the
//!    separate evaluation network's space, attribute accuracy) and writes `report.md`,
//!    `report.csv` and `samples.png` (real / base / plain / ADT rows, same prompts and seeds).
//!
//! `cargo run --release --example quickstart [-- --out runs/quickstart --steps 200]` is the
//! command-line front end; [`run`] is the job.

mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use adt_family::{Family, Model};
use adt_models_common::ModelSource;
use adt_plugin::checkpoint::GeneratorWeights;
use adt_schedulers::SamplerName;
use burn::prelude::*;

use crate::device::DeviceArg;
use crate::eval::{AttributeHeads, FeatureNet, Grid, GridResult, Reference, run_grid};
use crate::family::{FamilyJob, ModelSpec};
use crate::train::{Display, ExportDtype, ExportKind, TrainConfig, export_denoiser};
use adt_data::{ShapesDomain, Split};
use anyhow::{Context, Result, bail};
/// Every knob of the quickstart (also its command-line flags).
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Output folder (replaced when it holds an earlier quickstart).
    #[arg(long, default_value = "runs/quickstart")]
    pub out: PathBuf,
    /// Training steps of each run.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Training images written to `<out>/data`.
    #[arg(long, default_value_t = 1024)]
    pub train_images: usize,
    /// Held-out images per evaluation cell and seed (and reference images).
    #[arg(long, default_value_t = 128)]
    pub eval_images: usize,
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    pub seeds: Vec<u64>,
    /// Samplers evaluated (the training sampler first).
    #[arg(long, value_delimiter = ',', default_value = "ddim,dpmpp-2m", value_parser = |s: &str| s.parse::<SamplerName>())]
    pub samplers: Vec<SamplerName>,
    /// Sampler step counts evaluated.
    #[arg(long, value_delimiter = ',', default_value = "4,8")]
    pub eval_steps: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub cfg: Vec<f64>,
    /// The run config both runs start from.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Extra `key=value` overrides of the run config, applied to both runs.
    #[arg(long = "set")]
    pub overrides: Vec<String>,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub plain: bool,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceArg,
}

/// The marker that makes `--out` ours to replace.
const MARKER: &str = "quickstart.json";

/// What the quickstart wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The output folder (absolute).
    pub out: PathBuf,
    /// The report's table (markdown).
    pub table: String,
    /// FD means per model (`base`, `plain`, `adt`) in grid-cell order.
    pub fd: Vec<(String, Vec<f64>)>,
}

/// Run the quickstart: verify the shipped weights, write the data, train plain and ADT,
/// evaluate the three models and write the report into `args.out`.
pub fn run(args: &Args) -> Result<Outcome> {
    let started = Instant::now();
    let assets = crate::assets::shapes_dir();
    let checked = crate::assets::verify(&assets)?;
    eprintln!(
        "quickstart: {checked} shipped files verified in {}",
        assets.display()
    );

    prepare_out(&args.out)?;
    let out = std::fs::canonicalize(&args.out)?;
    let domain = ShapesDomain::new(32, 0);
    let data = out.join("data");
    let t = Instant::now();
    domain
        .write_image_folder(&data, Split::Train, args.train_images)
        .context("writing the training images")?;
    eprintln!(
        "quickstart: {} training images in {} ({:.1}s)",
        args.train_images,
        data.display(),
        t.elapsed().as_secs_f64()
    );

    let config_path = args.config.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs/shapes-quickstart.toml")
    });
    let quoted = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let run_config = |name: &str, adversarial: bool| -> Result<TrainConfig> {
        let mut sets = vec![
            format!("out={}", quoted(&out.join(name))),
            format!("data.source.root={}", quoted(&data)),
            format!("adt.total_steps={}", args.steps),
            format!("adt.adversarial={adversarial}"),
            "data.progress=\"silent\"".to_string(),
        ];
        sets.extend(args.overrides.iter().cloned());
        TrainConfig::load(&config_path, &sets)
    };
    let device = args.device.device();
    let display = if args.plain {
        Display::Plain
    } else {
        Display::Auto
    };
    let mut timings = Vec::new();
    for (name, adversarial) in [("plain", false), ("adt", true)] {
        let config = run_config(name, adversarial)?;
        eprintln!(
            "quickstart: {} run, {} steps → {}",
            if adversarial {
                "ADT"
            } else {
                "plain fine-tune"
            },
            args.steps,
            config.out.display()
        );
        let t = Phase::start();
        crate::train::train(&config, false, std::slice::from_ref(&device), display)?;
        timings.push(t.done(name));
    }

    // Evaluate the base model and both tuned UNets (their EMA weights).
    let t = Phase::start();
    let eval_dir = assets.join("dinov2_eval");
    let net = FeatureNet::load(&ModelSource::Local(eval_dir.clone()), [32, 32], &device)?;
    let heads = AttributeHeads::load(&eval_dir)?;
    let grid = Grid {
        samplers: args.samplers.clone(),
        steps: args.eval_steps.clone(),
        cfgs: args.cfg.clone(),
        seeds: args.seeds.clone(),
        n: args.eval_images,
        batch: 32,
        domain: ShapesDomain::new(32, 0),
    };
    let mut specs = vec![(
        "base".to_string(),
        ModelSpec::pipeline(assets.display().to_string()),
    )];
    for name in ["plain", "adt"] {
        let export = export_denoiser(
            &out.join(name),
            None,
            GeneratorWeights::Preferred,
            ExportKind::Full,
            ExportDtype::F32,
            &out.join(name).join("export"),
            &device,
        )?;
        specs.push((
            name.to_string(),
            ModelSpec {
                denoiser: Some(export.written),
                ..ModelSpec::pipeline(assets.display().to_string())
            },
        ));
    }
    let family = specs[0].1.family()?;
    let results = family.run(Evaluate {
        specs: &specs,
        net: &net,
        heads: heads.as_ref(),
        grid: &grid,
        samples: &out.join("samples.png"),
        device: &device,
    })?;
    timings.push(t.done("evaluation"));
    let table = report::write(
        &out,
        args,
        &results,
        &timings,
        started.elapsed().as_secs_f64(),
    )?;
    let fd = results
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                r.cells.iter().map(|c| c.scores.mean()).collect(),
            )
        })
        .collect();
    Ok(Outcome { out, table, fd })
}

/// Wall and CPU clocks of one phase of the run, for the report's timings.
struct Phase {
    wall: Instant,
    cpu_ms: Option<f64>,
}

/// A finished phase: its name, wall seconds and the cores it kept busy (where known).
pub(crate) type Timing = (String, f64, Option<f64>);

impl Phase {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu_ms: crate::device::process_cpu_ms(),
        }
    }

    fn done(self, name: &str) -> Timing {
        let wall = self.wall.elapsed().as_secs_f64();
        let cores = self
            .cpu_ms
            .zip(crate::device::process_cpu_ms())
            .map(|(a, b)| (b - a) / 1000.0 / wall.max(1e-9));
        (name.to_string(), wall, cores)
    }
}

/// Evaluate base, plain and ADT on the grid and draw `samples.png`.
struct Evaluate<'a> {
    specs: &'a [(String, ModelSpec)],
    net: &'a FeatureNet,
    heads: Option<&'a AttributeHeads>,
    grid: &'a Grid,
    samples: &'a Path,
    device: &'a Device,
}

impl FamilyJob for Evaluate<'_> {
    type Output = Result<Vec<(String, GridResult)>>;

    fn run<F: Family>(self) -> Self::Output {
        let mut models: Vec<(String, Model<F>)> = Vec::new();
        for (name, spec) in self.specs {
            models.push((name.clone(), spec.load::<F>(self.device)?));
        }
        let reference = Reference::compute(self.net, self.heads, self.grid, self.device)?;
        let mut results = Vec::new();
        for (name, model) in &models {
            let r = run_grid(
                model,
                self.net,
                self.heads,
                self.grid,
                &reference,
                self.device,
                |line| eprintln!("eval {name}: {line}"),
            )?;
            results.push((name.clone(), r));
        }
        report::samples_png(&models, self.grid, self.samples, self.device)?;
        Ok(results)
    }
}

/// Create `out`, replacing an earlier quickstart there (never anything else).
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() {
        let ours = out.join(MARKER).is_file() || out.read_dir()?.next().is_none();
        if !ours {
            bail!(
                "{} exists and is not an earlier quickstart (no {MARKER}); choose another --out",
                out.display()
            );
        }
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        out.join(MARKER),
        "{\"written_by\": \"examples/quickstart\"}\n",
    )?;
    Ok(())
}
