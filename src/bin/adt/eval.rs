//! `adt eval`: Fréchet distance of generated vs held-out images on the shapes domain, over a
//! sampler × steps × CFG grid and several seeds, in a DINOv2-architecture network's space
//! (`--features`) or as FID with pytorch-fid's InceptionV3 (`--inception`).

use std::path::PathBuf;

use adt::data::ShapesDomain;
use adt::eval::{
    AttributeHeads, FeatureNet, Grid, GridResult, Reference, markdown, run_grid, write_report,
};
use adt::family::{FamilyJob, ModelSpec};
use adt::models::common::ModelSource;
use adt::models::family::Family;
use adt::models::schedulers::SamplerName;
use anyhow::{Result, bail};
use burn::prelude::*;

use adt::device::DeviceArg;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The pipeline (diffusers folder or hub id), e.g. assets/shapes.
    #[arg(long)]
    model: String,
    /// A tuned denoiser in diffusers layout (the `unet/` or `transformer/` of `adt export`).
    #[arg(long, visible_alias = "transformer")]
    unet: Option<PathBuf>,
    #[command(flatten)]
    lora: crate::sample::LoraArgs,
    /// The model family (`sd15`, `sdxl`, `sd3`); default: from the model's `model_index.json`.
    #[arg(long)]
    family: Option<String>,
    /// Another VAE: a component folder or a hub repo holding one at its root.
    #[arg(long)]
    vae: Option<String>,
    /// The feature network (DINOv2 architecture, transformers layout), e.g. assets/shapes/dinov2_eval.
    #[arg(
        long,
        required_unless_present = "inception",
        conflicts_with = "inception"
    )]
    features: Option<String>,
    /// FID instead: pytorch-fid's InceptionV3 weights, `pt_inception-2015-12-05-6726825d.pth`
    /// (or the same state dict as .safetensors). Images are resized to 299x299; no attribute heads.
    #[arg(long, value_name = "PATH")]
    inception: Option<PathBuf>,
    /// Feature network input size (square; DINOv2 only).
    #[arg(long, default_value_t = 32)]
    feature_size: usize,
    /// Samplers of the grid; default: ddim,euler,dpmpp-2m, or flow-euler for a
    /// flow-matching checkpoint (SD3), whose scheduler config the others cannot read.
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| s.parse::<SamplerName>())]
    samplers: Option<Vec<SamplerName>>,
    #[arg(long, value_delimiter = ',', default_value = "4,8,25")]
    steps: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "5")]
    cfg: Vec<f64>,
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Images per cell and seed (and reference images).
    #[arg(long, default_value_t = 256)]
    n: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Shapes domain image size and seed.
    #[arg(long, default_value_t = 32)]
    size: u32,
    #[arg(long, default_value_t = 0)]
    domain_seed: u64,
    /// Output folder for eval.md, eval.csv and eval.png.
    #[arg(long, default_value = "eval")]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
}

impl EvalArgs {
    pub fn run(&self) -> Result<()> {
        let device = self.device.device();
        // The feature network first: a wrong weights path fails before the pipeline loads.
        let (net, heads) = match (&self.inception, &self.features) {
            (Some(weights), _) => (FeatureNet::inception(weights, &device)?, None),
            (None, Some(features)) => {
                let source = ModelSource::parse(features);
                let net = FeatureNet::load(&source, [self.feature_size; 2], &device)?;
                // The shapes evaluation network ships attribute heads beside its weights.
                let heads = match source {
                    ModelSource::Local(dir) => AttributeHeads::load(&dir)?,
                    ModelSource::Hub { .. } => None,
                };
                (net, heads)
            }
            (None, None) => bail!("give --features or --inception"),
        };
        let spec = ModelSpec {
            source: self.model.clone(),
            family: self.family.clone(),
            vae: self.vae.clone(),
            denoiser: self.unet.clone(),
            single_file: None,
            max_sequence_length: None,
            lora: self.lora.spec(),
        };
        let grid = Grid {
            samplers: self.samplers.clone().unwrap_or_default(),
            steps: self.steps.clone(),
            cfgs: self.cfg.clone(),
            seeds: self.seeds.clone(),
            n: self.n,
            batch: self.batch,
            domain: ShapesDomain::new(self.size, self.domain_seed),
        };
        let (result, source) = spec.family()?.run(EvalJob {
            spec: &spec,
            net: &net,
            heads: heads.as_ref(),
            grid: &grid,
            device: &device,
        })?;
        let mut label = match &self.unet {
            Some(u) => u.display().to_string(),
            None => source,
        };
        if let Some((file, scale)) = spec.lora.as_ref() {
            label = format!("{label} + LoRA {} × {scale}", file.display());
        }
        write_report(&self.out, &label, &result, self.seeds.len(), self.n)?;
        println!("{}", markdown(&label, &result, self.seeds.len(), self.n));
        println!(
            "wrote {}/eval.md, eval.csv and eval.png",
            self.out.display()
        );
        Ok(())
    }
}

/// Load the model as its family, then featurize the real images and run the grid.
struct EvalJob<'a> {
    spec: &'a ModelSpec,
    net: &'a FeatureNet,
    heads: Option<&'a AttributeHeads>,
    grid: &'a Grid,
    device: &'a Device,
}

impl FamilyJob for EvalJob<'_> {
    type Output = Result<(GridResult, String)>;

    fn run<F: Family>(self) -> Self::Output {
        let model = self.spec.load::<F>(self.device)?;
        let mut grid = self.grid.clone();
        if grid.samplers.is_empty() {
            grid.samplers = model.scheduler.comparison_samplers()?;
        }
        let reference = Reference::compute(self.net, self.heads, &grid, self.device)?;
        let result = run_grid(
            &model,
            self.net,
            self.heads,
            &grid,
            &reference,
            self.device,
            |line| eprintln!("{line}"),
        )?;
        Ok((result, model.source))
    }
}
