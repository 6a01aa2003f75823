//! `adt sample`: prompts → PNGs with an SD1.x checkpoint (base or tuned UNet), any sampler.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use adt::models::common::ModelSource;
use adt::models::schedulers::{SAMPLER_NAMES, SamplerName, Scheduler};
use adt::models::sd15::image_io::{load_image, save_png, to_rgb8};
use adt::models::sd15::{InitImage, Request, Sd15, SeededNoise};
use adt::train::read_prompt_file;
use anyhow::{Context, Result, bail};

use adt::device::DeviceArg;

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Prompts, one image each (or use --prompt-file).
    prompts: Vec<String>,
    /// A text file with one prompt per line (blank lines and lines starting with # skipped).
    #[arg(long)]
    prompt_file: Option<PathBuf>,
    /// The model: a diffusers folder or a Hugging Face repo id (`org/name[@revision]`).
    #[arg(long, default_value = "stable-diffusion-v1-5/stable-diffusion-v1-5")]
    model: String,
    /// An original-layout single file (`.safetensors`); --model then supplies configs,
    /// tokenizer and scheduler config.
    #[arg(long)]
    single_file: Option<PathBuf>,
    /// A tuned UNet in diffusers layout (the `unet/` folder `adt export` writes).
    #[arg(long)]
    unet: Option<PathBuf>,
    /// Negative prompt, used for every prompt.
    #[arg(long, default_value = "")]
    negative: String,
    /// Sampler.
    #[arg(long, default_value = "ddim", value_parser = parse_sampler,
          help = format!("Sampler: {}", SAMPLER_NAMES.join(", ")))]
    sampler: SamplerName,
    /// Denoising steps.
    #[arg(long, default_value_t = 25)]
    steps: usize,
    /// Classifier-free guidance scale (≤ 1 disables CFG).
    #[arg(long, default_value_t = 7.5)]
    cfg: f64,
    /// Seed of the first image; image k uses seed + k.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image width in pixels (default: the model's native size).
    #[arg(long)]
    width: Option<usize>,
    /// Image height in pixels (default: the model's native size).
    #[arg(long)]
    height: Option<usize>,
    /// img2img: the start image (resized to width × height).
    #[arg(long)]
    init: Option<PathBuf>,
    /// img2img strength in [0, 1].
    #[arg(long, default_value_t = 0.75)]
    strength: f64,
    /// Images per model call.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Output folder (PNG files plus samples.jsonl with every image's settings).
    #[arg(long, default_value = "samples")]
    out: PathBuf,
    /// Compute device.
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
}

fn parse_sampler(s: &str) -> Result<SamplerName, String> {
    s.parse()
}

impl SampleArgs {
    pub fn run(&self) -> Result<()> {
        let prompts = self.prompts()?;
        let device = self.device.device();
        let t0 = Instant::now();
        let source = ModelSource::parse(&self.model);
        let mut sd = match &self.single_file {
            Some(file) => Sd15::from_single_file(file, &source, &device)
                .with_context(|| format!("loading single file {}", file.display()))?,
            None => Sd15::from_pretrained(&source, &device)
                .with_context(|| format!("loading {}", source.describe()))?,
        };
        if let Some(dir) = &self.unet {
            sd = sd
                .with_unet(dir, &device)
                .with_context(|| format!("loading the tuned UNet from {}", dir.display()))?;
        }
        eprintln!(
            "loaded {} in {:.1} s",
            sd.source,
            t0.elapsed().as_secs_f64()
        );

        let (native_h, native_w) = sd.default_size();
        let (height, width) = (
            self.height.unwrap_or(native_h),
            self.width.unwrap_or(native_w),
        );
        let scheduler_config = sd
            .scheduler
            .config(self.sampler)
            .with_context(|| format!("building sampler {}", self.sampler))?;
        let scheduler = Scheduler::new(&scheduler_config, self.steps)
            .with_context(|| format!("{} with {} steps", self.sampler, self.steps))?;
        let init = match &self.init {
            Some(path) => Some(InitImage {
                image: load_image(path, width, height, &device)?,
                strength: self.strength,
            }),
            None => None,
        };

        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let log_path = self.out.join("samples.jsonl");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let batch = self.batch.max(1);
        for (chunk_idx, chunk) in prompts.chunks(batch).enumerate() {
            let first = chunk_idx * batch;
            let seed = self.seed + first as u64;
            let request = Request {
                prompts: chunk.to_vec(),
                negative_prompts: vec![self.negative.clone()],
                guidance_scale: self.cfg,
                height,
                width,
                init: init.clone(),
            };
            let t = Instant::now();
            let mut noise = SeededNoise::new(seed, chunk.len());
            let out = sd
                .pipeline()
                .generate(&scheduler, &request, &mut noise, &device)
                .with_context(|| format!("generating images {first}..{}", first + chunk.len()))?;
            for (k, img) in to_rgb8(out.images).into_iter().enumerate() {
                let index = first + k;
                let seed = noise.seeds()[k];
                let path = self.out.join(format!("{index:04}-seed{seed}.png"));
                save_png(&img, &path)?;
                let record = serde_json::json!({
                    "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
                    "prompt": chunk[k],
                    "negative_prompt": self.negative,
                    "seed": seed,
                    "sampler": self.sampler.to_string(),
                    "steps": self.steps,
                    "cfg": self.cfg,
                    "width": width,
                    "height": height,
                    "model": sd.source,
                    "init": self.init.as_ref().map(|p| p.display().to_string()),
                    "strength": self.init.as_ref().map(|_| self.strength),
                });
                writeln!(log, "{record}")
                    .with_context(|| format!("writing {}", log_path.display()))?;
                eprintln!(
                    "[{}/{}] {} ({:.1} s)",
                    index + 1,
                    prompts.len(),
                    path.display(),
                    t.elapsed().as_secs_f64()
                );
            }
        }
        println!("wrote {} image(s) to {}", prompts.len(), self.out.display());
        Ok(())
    }

    fn prompts(&self) -> Result<Vec<String>> {
        let mut prompts = self.prompts.clone();
        if let Some(file) = &self.prompt_file {
            prompts.extend(read_prompt_file(file)?);
        }
        if prompts.is_empty() {
            bail!("no prompts: pass them as arguments or with --prompt-file FILE");
        }
        Ok(prompts)
    }
}
