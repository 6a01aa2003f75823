//! `adt eval`: Fréchet distance of generated vs held-out images on the shapes domain, over a
//! sampler × steps × CFG grid and several seeds, in a DINOv2-architecture network's space
//! (`--features`) or as FID with pytorch-fid's InceptionV3 (`--inception`).

use std::path::PathBuf;

use adt::data::ShapesDomain;
use adt::eval::{AttributeHeads, FeatureNet, Grid, Reference, markdown, run_grid, write_report};
use adt::models::common::ModelSource;
use adt::models::schedulers::SamplerName;
use adt::models::sd15::Sd15;
use anyhow::{Context, Result, bail};

use adt::device::DeviceArg;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The pipeline (diffusers folder or hub id), e.g. assets/shapes.
    #[arg(long)]
    model: String,
    /// A tuned UNet in diffusers layout (from `adt export`).
    #[arg(long)]
    unet: Option<PathBuf>,
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
    #[arg(long, value_delimiter = ',', default_value = "ddim,euler,dpmpp-2m", value_parser = |s: &str| s.parse::<SamplerName>())]
    samplers: Vec<SamplerName>,
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
        let mut sd = Sd15::from_pretrained(&ModelSource::parse(&self.model), &device)
            .with_context(|| format!("loading {}", self.model))?;
        if let Some(dir) = &self.unet {
            sd = sd.with_unet(dir, &device)?;
        }
        let grid = Grid {
            samplers: self.samplers.clone(),
            steps: self.steps.clone(),
            cfgs: self.cfg.clone(),
            seeds: self.seeds.clone(),
            n: self.n,
            batch: self.batch,
            domain: ShapesDomain::new(self.size, self.domain_seed),
        };
        let reference = Reference::compute(&net, heads.as_ref(), &grid, &device)?;
        let result = run_grid(
            &sd,
            &net,
            heads.as_ref(),
            &grid,
            &reference,
            &device,
            |line| eprintln!("{line}"),
        )?;
        let label = match &self.unet {
            Some(u) => u.display().to_string(),
            None => sd.source.clone(),
        };
        write_report(&self.out, &label, &result, self.seeds.len(), self.n)?;
        println!("{}", markdown(&label, &result, self.seeds.len(), self.n));
        println!(
            "wrote {}/eval.md, eval.csv and eval.png",
            self.out.display()
        );
        Ok(())
    }
}
