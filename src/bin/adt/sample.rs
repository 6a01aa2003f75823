//! `adt sample`: prompts → PNGs with a checkpoint of any family (base or tuned denoiser, any
//! sampler), optionally from given initial noise and saving the final latents.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use adt::family::{FamilyJob, ModelSpec};
use adt::models::common::tensor_io::{read_tensors, write_tensors};
use adt::models::family::adapters::LatentCodec;
use adt::models::family::image_io::{load_image, save_png, to_rgb8};
use adt::models::family::{Family, GivenFirst, GivenNoise, InitImage, Request, SeededNoise};
use adt::models::schedulers::{SAMPLER_NAMES, SamplerName, Scheduler};
use adt::plugin::traits::{Conditioner, MicroCond};
use adt::train::read_prompt_file;
use anyhow::{Context, Result, bail};
use burn::prelude::*;

use adt::device::DeviceArg;

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Prompts, one image each (or use --prompt-file).
    prompts: Vec<String>,
    /// A text file with one prompt per line (blank lines and lines starting with # skipped).
    #[arg(long)]
    prompt_file: Option<PathBuf>,
    /// The model: a diffusers folder or a Hugging Face repo id (`org/name[@revision]`);
    /// default `stable-diffusion-v1-5/stable-diffusion-v1-5`. With --single-file, the
    /// diffusers folder or repo of the same architecture (required).
    #[arg(long)]
    model: Option<String>,
    /// The model family (`sd15`, `sdxl`, `sd3`); default: from the model's `model_index.json`.
    #[arg(long)]
    family: Option<String>,
    /// An original-layout single file (`.safetensors`; its family is read from its keys);
    /// --model then supplies configs, tokenizers and scheduler config (and, for an SD3 file
    /// without `text_encoders.*`, the text encoders).
    #[arg(long)]
    single_file: Option<PathBuf>,
    /// A tuned denoiser in diffusers layout: the `unet/` (SD1.x, SDXL) or `transformer/`
    /// (SD3) folder `adt export` writes.
    #[arg(long, visible_alias = "transformer")]
    unet: Option<PathBuf>,
    #[command(flatten)]
    lora: LoraArgs,
    /// Another VAE: a component folder or a hub repo holding one at its root (e.g. an
    /// fp16-fix VAE); its own scaling factor is used.
    #[arg(long)]
    vae: Option<String>,
    /// Negative prompt, used for every prompt. Without it: diffusers' `negative_prompt=None`
    /// (the empty prompt; zeros for SDXL checkpoints with `force_zeros_for_empty_prompt`).
    #[arg(long)]
    negative: Option<String>,
    /// Sampler; default: the checkpoint's own scheduler where adt implements it (SDXL's
    /// Euler, SD3's flow Euler), else DDIM (SD1.5 ships PNDM).
    #[arg(long, value_parser = parse_sampler,
          help = format!("Sampler: {} (default: the checkpoint's own where adt has it, else ddim)", SAMPLER_NAMES.join(", ")))]
    sampler: Option<SamplerName>,
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
    /// SD3: T5 tokens per prompt (the pipeline's `max_sequence_length`, 1..=512; default 256).
    #[arg(long)]
    max_sequence_length: Option<usize>,
    /// img2img: the start image (resized to width × height).
    #[arg(long)]
    init: Option<PathBuf>,
    /// img2img strength in [0, 1] (diffusers' defaults: 0.8 for SD1.x, 0.3 for SDXL, 0.6 for
    /// SD3; SD3 keeps the fractional start of steps × strength).
    #[arg(long, default_value_t = 0.75)]
    strength: f64,
    /// SDXL micro-conditioning: the original size `H,W` (default: the image size).
    #[arg(long, value_name = "H,W", value_parser = parse_pair)]
    original_size: Option<(u32, u32)>,
    /// SDXL micro-conditioning: the crop's top-left corner `TOP,LEFT`.
    #[arg(long, value_name = "TOP,LEFT", value_parser = parse_pair, default_value = "0,0")]
    crop: (u32, u32),
    /// SDXL refiner: the aesthetic score (the unconditional branch gets 2.5, as diffusers).
    #[arg(long, default_value_t = 6.0)]
    aesthetic_score: f32,
    /// The initial latents instead of the seeded draw: a safetensors file with tensor
    /// `latents` [N, C, H/8, W/8] (N = number of prompts) of standard-normal values, scaled by
    /// the sampler's initial sigma as diffusers does with `latents=` (txt2img only).
    #[arg(long, value_name = "FILE.safetensors", conflicts_with = "init")]
    noise: Option<PathBuf>,
    /// Also write OUT/latents.safetensors: tensor `latents`, the final latents of every image
    /// in prompt order, before the VAE decode.
    #[arg(long)]
    save_latents: bool,
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

/// `--lora FILE [--lora-scale S]`, shared by `adt sample` and `adt eval`.
#[derive(Debug, clap::Args)]
pub struct LoraArgs {
    /// A LoRA of the denoiser to merge in: diffusers/PEFT (`pytorch_lora_weights.safetensors`,
    /// or the folder holding it, as `adt export --lora` writes) or kohya layout.
    #[arg(long, value_name = "FILE")]
    lora: Option<PathBuf>,
    /// The LoRA's scale s (`W + s·(α/r)·B·A`; diffusers' `cross_attention_kwargs={"scale": s}`).
    #[arg(long, value_name = "S", default_value_t = 1.0, requires = "lora")]
    lora_scale: f64,
}

impl LoraArgs {
    /// The file and scale for [`ModelSpec::lora`] (a folder means its `pytorch_lora_weights.safetensors`).
    pub fn spec(&self) -> Option<(PathBuf, f64)> {
        self.lora.as_ref().map(|p| {
            let file = if p.is_dir() {
                p.join(adt::models::family::lora::PEFT_FILE)
            } else {
                p.clone()
            };
            (file, self.lora_scale)
        })
    }
}

fn parse_sampler(s: &str) -> Result<SamplerName, String> {
    s.parse()
}

fn parse_pair(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("expected two numbers `A,B`, got `{s}`"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u32>()
            .map_err(|e| format!("`{x}` in `{s}`: {e}"))
    };
    Ok((num(a)?, num(b)?))
}

impl SampleArgs {
    pub fn run(&self) -> Result<()> {
        let prompts = self.prompts()?;
        let single_file_without_model = self.model.is_none() && self.single_file.is_some();
        let source = self
            .model
            .clone()
            .unwrap_or_else(|| "stable-diffusion-v1-5/stable-diffusion-v1-5".into());
        let spec = ModelSpec {
            source,
            single_file: self.single_file.clone(),
            family: self.family.clone(),
            vae: self.vae.clone(),
            denoiser: self.unet.clone(),
            max_sequence_length: self.max_sequence_length,
            lora: self.lora.spec(),
        };
        if single_file_without_model {
            let family = spec.family()?;
            bail!(
                "--single-file {} needs --model: the diffusers folder or repo of the same \
                 architecture, for its configs, tokenizers and scheduler (and any text encoder \
                 the file lacks), e.g. --model {} ({family})",
                spec.single_file.as_ref().expect("set").display(),
                family.info().config_repo
            );
        }
        spec.family()?.run(SampleJob {
            args: self,
            spec: &spec,
            prompts: &prompts,
        })
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

struct SampleJob<'a> {
    args: &'a SampleArgs,
    spec: &'a ModelSpec,
    prompts: &'a [String],
}

impl FamilyJob for SampleJob<'_> {
    type Output = Result<()>;

    fn run<F: Family>(self) -> Result<()> {
        let SampleJob {
            args,
            spec,
            prompts,
        } = self;
        let device = args.device.device();
        let t0 = Instant::now();
        let model = spec.load::<F>(&device)?;
        eprintln!(
            "loaded {} ({}) in {:.1} s",
            model.source,
            F::NAME,
            t0.elapsed().as_secs_f64()
        );

        let (native_h, native_w) = model.default_size();
        let (height, width) = (
            args.height.unwrap_or(native_h),
            args.width.unwrap_or(native_w),
        );
        let sampler = match args.sampler {
            Some(s) => s,
            None => model
                .scheduler
                .sampling_sampler()
                .context("reading the checkpoint's scheduler config")?,
        };
        let scheduler_config = model
            .scheduler
            .config(sampler)
            .with_context(|| format!("building sampler {sampler}"))?;
        let scheduler = Scheduler::new(&scheduler_config, args.steps)
            .with_context(|| format!("{sampler} with {} steps", args.steps))?;
        for w in model.conditioner.prompt_warnings(prompts) {
            eprintln!("warning: {w}");
        }
        let init = match &args.init {
            Some(path) => Some(InitImage {
                image: load_image(path, width, height, &device)?,
                strength: args.strength,
            }),
            None => None,
        };
        let f = model.codec.downscale();
        let latent_shape = [
            prompts.len(),
            model.codec.latent_channels(),
            height / f,
            width / f,
        ];
        let given = match &args.noise {
            Some(path) => Some(read_noise(path, latent_shape, &device)?),
            None => None,
        };
        let micro = MicroCond {
            original_size: args.original_size.unwrap_or((height as u32, width as u32)),
            crop_top_left: args.crop,
            target_size: (height as u32, width as u32),
            aesthetic_score: args.aesthetic_score,
        };

        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
        let log_path = args.out.join("samples.jsonl");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let batch = args.batch.max(1);
        let mut finals = Vec::new();
        for (chunk_idx, chunk) in prompts.chunks(batch).enumerate() {
            let first = chunk_idx * batch;
            let seed = args.seed + first as u64;
            let request = Request {
                negative_prompts: args.negative.clone().map(|n| vec![n]),
                init: init.clone(),
                micro: Some(micro),
                ..Request::txt2img(chunk.to_vec(), args.cfg, height, width)
            };
            let t = Instant::now();
            let mut noise = GivenFirst {
                given: GivenNoise::new(
                    given
                        .as_ref()
                        .map(|z| z.clone().narrow(0, first, chunk.len())),
                ),
                rest: SeededNoise::new(seed, chunk.len()),
            };
            let out = model
                .pipeline()
                .generate(&scheduler, &request, &mut noise, &device)
                .with_context(|| format!("generating images {first}..{}", first + chunk.len()))?;
            if args.save_latents {
                finals.push(out.latents.clone());
            }
            for (k, img) in to_rgb8(out.images).into_iter().enumerate() {
                let index = first + k;
                let seed = noise.rest.seeds()[k];
                let path = args.out.join(format!("{index:04}-seed{seed}.png"));
                save_png(&img, &path)?;
                let record = serde_json::json!({
                    "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
                    "prompt": chunk[k],
                    "negative_prompt": args.negative,
                    "seed": seed,
                    "noise": args.noise.as_ref().map(|p| p.display().to_string()),
                    "sampler": sampler.to_string(),
                    "steps": args.steps,
                    "cfg": args.cfg,
                    "width": width,
                    "height": height,
                    "family": F::NAME,
                    "model": model.source,
                    "init": args.init.as_ref().map(|p| p.display().to_string()),
                    "strength": args.init.as_ref().map(|_| args.strength),
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
        if args.save_latents {
            let path = args.out.join("latents.safetensors");
            let all = Tensor::cat(finals, 0);
            write_tensors(
                &path,
                &BTreeMap::from([("latents".into(), all.into_data())]),
            )
            .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote the final latents to {}", path.display());
        }
        println!("wrote {} image(s) to {}", prompts.len(), args.out.display());
        Ok(())
    }
}

/// `--noise`: the file's tensor `latents`, checked against the shape this run draws.
fn read_noise(path: &Path, shape: [usize; 4], device: &Device) -> Result<Tensor<4>> {
    let mut tensors =
        read_tensors(path).with_context(|| format!("reading --noise {}", path.display()))?;
    let Some(data) = tensors.remove("latents") else {
        let have: Vec<&String> = tensors.keys().collect();
        bail!(
            "--noise {}: no tensor `latents` (the file has {have:?})",
            path.display()
        );
    };
    if data.shape().as_slice() != shape {
        bail!(
            "--noise {}: tensor `latents` has shape {:?}; this run needs {shape:?} \
             ([prompts, latent channels, height / VAE downscale, width / VAE downscale])",
            path.display(),
            data.shape(),
        );
    }
    if !data.dtype().is_float() {
        bail!(
            "--noise {}: tensor `latents` is not a float tensor",
            path.display()
        );
    }
    Ok(Tensor::from_data(data.convert::<f32>(), device))
}
