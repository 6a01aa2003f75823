//! `--memory`: peak memory and time of one ADT step and one plain `L_diff` step in f32, with
//! the denoiser in bf16 (`precision`) and with everything in bf16 (`vae_precision`,
//! `backbone_precision` too), with and without gradient checkpointing and LoRA (rank 4 on
//! `to_q`, `to_k`, `to_v`, `to_out.0`).
//!
//! ```text
//! cargo run --release --example bench_models -- --memory               # the CPU table
//! bench_models --memory --memory-model sdxl --device wgpu \
//!     --memory-batch 1 --memory-flops docs/memory/step-costs.json --memory-peak-tflops 67,989
//! ```
//!
//! Parts (`--memory-model small`, the default): the `unet_small` UNet (SD1.5 layout, widths
//! 32/64/128/128; trainable), the `vae_small` VAE (frozen; its decoder is in the G step's
//! graph), DINOv2-S at 112×112 (frozen backbone, 8×8 patches) with the default heads, a toy
//! text encoder (4 tokens of width 256; frozen, its cost is not the point). 128×128 images
//! (16×16 latents), batch 2, m = 4 sampler steps from noise (`start_policy = full`), K = 1,
//! AdamW for both players. `sd15` and `sdxl` build the real UNets and VAE from their published
//! configs with random weights (DINOv2-S at 224², 77 text tokens, SDXL's pooled embedding and
//! size ids), at 512² and 1024² by default: the device check's real-size step
//! (scripts/device/scale.sh).
//!
//! Method. Each configuration runs in a fresh child process (this binary with
//! `--memory-child`): build, one warm-up step (allocates the optimizer state), then the
//! resident set is the *steady state* (weights + optimizer state + allocator caches) and the
//! peak is reset (`/proc/self/clear_refs` = 5); one timed step follows and its peak resident
//! set (`VmHWM`) minus the steady state is the step's transient memory: activations kept
//! for backward, gradients, and temporaries. The children run with a fixed glibc mmap
//! threshold (`MALLOC_MMAP_THRESHOLD_=131072`) so freed tensors leave the resident set. On a
//! GPU the resident set is host memory only; the device's memory is the allocator's reserved
//! bytes after the step (its pools keep their pages, so about the step's peak), and the device
//! check also samples `nvidia-smi`. A child that fails (out of memory) is a row saying so.
//! With `--memory-flops`, the step's model FLOPs (see [`step_gflop`]) over its time give the
//! achieved TFLOP/s, and `--memory-peak-tflops` the fraction of the device's peak.

use std::process::Command;
use std::time::Instant;

use adt::models::diffusion::{AutoencoderKL, UNet2DConditionModel};
use adt::models::dinov2::{BackboneConfig, Dinov2Backbone, Dinov2Model};
use adt::models::family::adapters::{Dinov2Discriminator, UnetDenoiser, VaeCodec};
use adt::plugin::config::{Precision, StartPolicy};
use adt::plugin::lora::LoraConfig;
use adt::plugin::model::{AdtBatch, AdtModel};
use adt::plugin::rng::EngineRng;
use adt::plugin::step::{Optimizers, adt_step};
use adt::plugin::toy::{LinearDdim, ToyConditioner};
use adt::plugin::traits::Prediction;
use adt::plugin::{AdtConfig, Components, Parts};
use burn::module::Module;
use burn::prelude::*;

use crate::diffusion::{unet_config, vae_config};
use crate::dinov2::vit_s14;
use adt::device::DeviceArg;
use adt::plugin::traits::{Conditioner, Conditioning, MicroCond, TextEmbedding};

/// The engine's components of this benchmark.
#[derive(Clone, Debug)]
struct Bench;

impl Components for Bench {
    type Denoiser = UnetDenoiser;
    type Codec = VaeCodec;
    type Conditioner = BenchConditioner;
    type Backbone = Dinov2Discriminator;
}

/// The toy text encoder, plus SDXL's added conditions when the UNet takes them: a zero
/// pooled embedding of `pooled` width and each sample's six size ids.
#[derive(Module, Debug)]
struct BenchConditioner {
    toy: ToyConditioner,
    #[module(skip)]
    pooled: Option<usize>,
}

impl Conditioner for BenchConditioner {
    fn encode_text(&self, prompts: &[String], device: &Device) -> TextEmbedding {
        let mut t = self.toy.encode_text(prompts, device);
        t.pooled = self
            .pooled
            .map(|w| Tensor::zeros([prompts.len(), w], device));
        t
    }

    fn condition(&self, text: TextEmbedding, micro: &[MicroCond]) -> Conditioning {
        let device = text.hidden.device();
        let ids = self.pooled.map(|_| {
            let v: Vec<f32> = micro
                .iter()
                .flat_map(|m| adt::models::sdxl::time_ids(m, false))
                .collect();
            Tensor::from_data(TensorData::new(v, [micro.len(), 6]), &device)
        });
        Conditioning {
            hidden: text.hidden,
            pooled: text.pooled,
            ids,
        }
    }
}

/// Which denoiser and VAE a child builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// `unet_small` + `vae_small` (bench-cases.md), DINOv2-S at 112².
    Small,
    /// SD1.5's UNet and VAE (random weights), DINOv2-S at 224².
    Sd15,
    /// SDXL's UNet and VAE (random weights), DINOv2-S at 224².
    Sdxl,
}

/// `vae/config.json` of `stable-diffusion-v1-5/stable-diffusion-v1-5` (SDXL's VAE has the same
/// architecture; its scaling factor does not change the memory).
const SD_VAE: &str = r#"{"block_out_channels": [128, 256, 512, 512], "latent_channels": 4,
  "layers_per_block": 2, "sample_size": 512,
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}"#;

impl Scale {
    /// The flag's value (`small`, `sd15`, `sdxl`), as records and `step-costs.json` name it.
    fn name(self) -> String {
        use clap::ValueEnum;
        let value = self.to_possible_value().expect("no skipped variants");
        value.get_name().to_string()
    }

    /// Image side the step runs at by default (the model's native resolution).
    pub fn default_image(self) -> usize {
        match self {
            Self::Small => 128,
            Self::Sd15 => 512,
            Self::Sdxl => 1024,
        }
    }

    fn parts(self, d: &Device, rng: &mut EngineRng) -> Parts<Bench> {
        use adt::models::diffusion::{AutoencoderKLConfig, UNet2DConditionConfig};
        let (unet, vae, text, pooled, backbone_side) = match self {
            Self::Small => (unet_config(), vae_config(), 256, None, 112),
            Self::Sd15 | Self::Sdxl => {
                let (json, text, pooled) = if self == Self::Sd15 {
                    (SD15_UNET, 768, None)
                } else {
                    (SDXL_UNET, 2048, Some(1280))
                };
                let unet: UNet2DConditionConfig = serde_json::from_str(json).expect("config");
                let vae: AutoencoderKLConfig = serde_json::from_str(SD_VAE).expect("config");
                (unet, vae, text, pooled, 224)
            }
        };
        let unet = UNet2DConditionModel::new(&unet, d).expect("unet");
        let vae = AutoencoderKL::new(&vae, d).expect("vae");
        let dino = Dinov2Model::new(&vit_s14(), d);
        let layers = dino.config().num_hidden_layers;
        let backbone = Dinov2Backbone::new(
            dino,
            BackboneConfig {
                input_size: [backbone_side, backbone_side],
                ..Default::default()
            },
        )
        .expect("backbone");
        let ddim = std::sync::Arc::new(LinearDdim::new(Prediction::Epsilon));
        let tokens = if self == Self::Small { 4 } else { 77 };
        Parts {
            generator: UnetDenoiser::new(unet, Prediction::Epsilon),
            codec: VaeCodec::new(vae),
            conditioner: BenchConditioner {
                toy: ToyConditioner::new(64, text, tokens, rng, d),
                pooled,
            },
            backbone: Dinov2Discriminator::new(backbone, Dinov2Discriminator::default_taps(layers))
                .expect("taps"),
            schedule: ddim.clone(),
            sampler: ddim,
        }
    }
}

fn status_kb(key: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// One configuration.
#[derive(Clone, Copy, Debug)]
struct Setting {
    adversarial: bool,
    /// 0: f32; 1: the denoiser in bf16 (`precision`); 2: the VAE and the backbone too
    /// (`vae_precision`, `backbone_precision`; ADT steps only).
    bf16: u8,
    checkpointing: bool,
    lora: bool,
}

impl Setting {
    /// Sampler steps of the simulated inference (all of them: `start_policy = full`).
    const M: usize = 4;

    fn all() -> Vec<Self> {
        let mut v = Vec::new();
        for adversarial in [false, true] {
            for lora in [false, true] {
                for bf16 in [0, 1, 2] {
                    if bf16 == 2 && !adversarial {
                        continue;
                    }
                    for checkpointing in [false, true] {
                        v.push(Self {
                            adversarial,
                            bf16,
                            checkpointing,
                            lora,
                        });
                    }
                }
            }
        }
        v
    }

    fn arg(self) -> String {
        format!(
            "{}{}{}{}",
            self.adversarial as u8, self.bf16, self.checkpointing as u8, self.lora as u8
        )
    }

    fn parse(s: &str) -> Self {
        let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
        Self {
            adversarial: b[0],
            bf16: s[1..2].parse().unwrap_or(0),
            checkpointing: b[2],
            lora: b[3],
        }
    }

    fn config(self) -> AdtConfig {
        AdtConfig {
            adversarial: self.adversarial,
            precision: if self.bf16 > 0 {
                Precision::Bf16
            } else {
                Precision::F32
            },
            vae_precision: if self.bf16 > 1 {
                Precision::Bf16
            } else {
                Precision::F32
            },
            backbone_precision: if self.bf16 > 1 {
                Precision::Bf16
            } else {
                Precision::F32
            },
            gradient_checkpointing: self.checkpointing,
            // One shard: the step's memory as a GPU runs it (shards keep every shard's graph
            // alive at once), and the figures of docs/benchmarks.md were measured so.
            cpu_shards: Some(1),
            lora: self.lora.then(|| LoraConfig::new(4)),
            m: Self::M,
            k: 1,
            start_policy: StartPolicy::Full,
            total_steps: 100,
            ..AdtConfig::default()
        }
    }
}

/// What one child measures: `setting` at `scale`, `image`² pixels, batch `batch`, on `device`.
struct Job {
    setting: Setting,
    scale: Scale,
    image: usize,
    batch: usize,
    device: DeviceArg,
}

impl Job {
    fn arg(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.setting.arg(),
            self.scale.name(),
            self.image,
            self.batch,
            self.device
        )
    }

    fn parse(s: &str) -> Self {
        let f: Vec<&str> = s.split(':').collect();
        Self {
            setting: Setting::parse(f[0]),
            scale: <Scale as clap::ValueEnum>::from_str(f[1], false).expect("scale"),
            image: f[2].parse().expect("image size"),
            batch: f[3].parse().expect("batch"),
            device: <DeviceArg as clap::ValueEnum>::from_str(f[4], true).expect("device"),
        }
    }
}

fn child(job: Job) {
    let setting = job.setting;
    let plain = job.device.device();
    let d = if setting.checkpointing {
        plain.autodiff().gradient_checkpointing()
    } else {
        plain.autodiff()
    };
    let mut rng = EngineRng::new(0);
    let parts = job.scale.parts(&d, &mut rng);
    let config = AdtConfig {
        batch_size: job.batch,
        bn_group: job.batch.min(2),
        ..setting.config()
    };
    let mut model =
        AdtModel::<Bench>::from_parts(config.clone(), parts, &mut rng, &d).expect("model");
    let params = model.generator.num_params();
    let trainable = trainable_params(&model.generator);
    let images = rng
        .normal_tensor([job.batch, 3, job.image, job.image], &d)
        .mul_scalar(0.5)
        .clamp(-1.0, 1.0);
    let prompts = (0..job.batch).map(|i| format!("a red disc {i}")).collect();
    let batch = AdtBatch::new(images, prompts);
    let mut optims = Optimizers::new(&config);
    let mut times = Vec::new();
    let mut steady = 0.0;
    for step in 1..=2 {
        if step == 2 {
            steady = status_kb("VmRSS:");
            // Reset the peak to the current resident set (Linux ≥ 4.0).
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
        let t = Instant::now();
        let (m, report) = adt_step(
            model,
            &mut optims,
            None,
            std::slice::from_ref(&batch),
            &mut rng,
            step,
        )
        .expect("step");
        model = m;
        assert!(report.nonfinite.is_empty(), "{:?}", report.nonfinite);
        d.sync().expect("device sync");
        times.push(t.elapsed().as_secs_f64());
    }
    let peak = status_kb("VmHWM:");
    // On a GPU the allocator's reserved bytes after the step (its pools keep their pages:
    // about the step's peak); none on the CPU.
    let reserved = d
        .memory_pool_usage()
        .map_or(-1.0, |u| u.bytes_reserved as f64 / 1024.0);
    println!(
        "{{\"setting\":\"{}\",\"step_s\":{},\"steady_kb\":{steady},\"peak_kb\":{peak},\"reserved_kb\":{reserved},\"params\":{params},\"trainable\":{trainable}}}",
        setting.arg(),
        times[1]
    );
}

/// Parameters that receive gradients (LoRA: the adapters only).
fn trainable_params<M: Module>(m: &M) -> usize {
    struct Count(usize);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if p.val().is_require_grad() {
                self.0 += p.val().shape().num_elements();
            }
        }
    }
    let mut c = Count(0);
    m.visit(&mut c);
    c.0
}

/// One child's JSON record, or its error (a failed child, e.g. out of GPU memory, is a row
/// of the table, not the end of the benchmark).
fn run_child(job: &Job) -> Result<serde_json::Value, String> {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--memory-child", &job.arg()])
        // A fixed glibc mmap threshold: every tensor above 128 KiB is its own mapping and
        // goes back to the OS when freed, so the resident set follows live memory (glibc's
        // default raises the threshold after frees and keeps freed tensors resident).
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().rev().find(|l| l.starts_with('{')) {
        Some(line) if out.status.success() => {
            serde_json::from_str(line).map_err(|e| format!("child JSON: {e}"))
        }
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            Err(format!("{} ({last})", out.status))
        }
    }
}

/// What `--memory` runs.
pub struct Options {
    /// The model scale.
    pub scale: Scale,
    /// Image side (default: the scale's native resolution).
    pub image: Option<usize>,
    /// Images per step.
    pub batch: usize,
    /// The device.
    pub device: DeviceArg,
    /// Only the settings whose `arg()` (adversarial, bf16 as 0/1/2, checkpointing, LoRA) is in
    /// the list; all when empty.
    pub only: Vec<String>,
    /// One JSON object per setting instead of the tables.
    pub json: bool,
    /// `docs/memory/step-costs.json`: per-component forward FLOPs, for achieved TFLOP/s.
    pub flops: Option<std::path::PathBuf>,
    /// The device's peak TFLOP/s for f32 and for bf16, for the fraction of peak.
    pub peak_tflops: Option<(f64, f64)>,
}

/// Forward GFLOP of the denoiser, the VAE decode, the backbone and the VAE encoder for `batch`
/// images of `image`² at `scale`, from `step_costs.py`'s file (its rows are per its own batch;
/// FLOPs scale linearly with the batch).
fn component_gflop(
    path: &std::path::Path,
    scale: Scale,
    image: usize,
    batch: usize,
) -> Result<[f64; 4], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let row = v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["scale"] == scale.name() && r["image"] == image)
        .ok_or_else(|| {
            format!(
                "{}: no row for {} at {image}²",
                path.display(),
                scale.name()
            )
        })?;
    let per = batch as f64 / row["batch"].as_f64().unwrap_or(f64::NAN);
    let g = |k: &str| row[k].as_f64().unwrap_or(f64::NAN) * per;
    Ok([
        g("denoiser_fwd_gflop"),
        g("vae_decode_fwd_gflop"),
        g("backbone_fwd_gflop"),
        g("vae_encode_fwd_gflop"),
    ])
}

/// Model FLOPs of one step of `setting` (the MFU convention: recomputation by checkpointing
/// is not counted), from the forward costs `[U, V, B, E]`:
/// - both steps encode the batch's real images (E, no graph: the benchmark has no latent
///   cache);
/// - ADT: m + 1 denoiser forwards (the simulated steps, L_diff) with 2 backward-passes' worth
///   for the K = 1 graph step and for L_diff (input and weight gradients; LoRA: input
///   gradients only, ≈ 1 forward), a VAE decode forward and its input-gradient backward,
///   and the backbone on fake and real images in the D update and in the G update plus the
///   fake's input-gradient backward: `E + (m+1)U + 2·gU + 2V + 5B` with g = 2 (1 with LoRA);
/// - plain: `E + U + gU`.
///
/// The fraction of peak divides by the bf16 peak for every bf16 row, though with the denoiser
/// alone in bf16 (digit 1) the VAE and backbone FLOPs (46% of SD1.5's step at 512²) run in f32.
fn step_gflop(setting: Setting, m: usize, [u, v, b, e]: [f64; 4]) -> f64 {
    let g = if setting.lora { 1.0 } else { 2.0 };
    if setting.adversarial {
        e + (m as f64 + 1.0) * u + 2.0 * g * u + 2.0 * v + 5.0 * b
    } else {
        e + u + g * u
    }
}

/// `--memory-child JOB` (internal) or `--memory`: the tables on stdout.
pub fn main(child_job: Option<&str>, opts: Options) {
    if let Some(j) = child_job {
        return child(Job::parse(j));
    }
    let image = opts.image.unwrap_or(opts.scale.default_image());
    let costs = opts.flops.as_ref().map(|p| {
        component_gflop(p, opts.scale, image, opts.batch).unwrap_or_else(|e| {
            eprintln!("--memory-flops: {e}");
            std::process::exit(2)
        })
    });
    if !opts.json {
        println!(
            "{} at {image}², batch {}, on {}",
            opts.scale.name(),
            opts.batch,
            opts.device
        );
        println!();
        println!(
            "| step | precision | checkpointing | LoRA | step s | steady MiB | step peak above steady MiB | GPU pool reserved MiB | trainable params | AdamW state MiB | model TFLOP/s | % of peak |"
        );
        println!("|---|:---:|:---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    }
    for s in Setting::all() {
        if !opts.only.is_empty() && !opts.only.contains(&s.arg()) {
            continue;
        }
        let job = Job {
            setting: s,
            scale: opts.scale,
            image,
            batch: opts.batch,
            device: opts.device,
        };
        let labels = format!(
            "| {} | {} | {} | {} |",
            if s.adversarial { "ADT" } else { "plain" },
            ["f32", "bf16", "bf16 all"][s.bf16 as usize],
            if s.checkpointing { "on" } else { "off" },
            if s.lora { "r=4" } else { "off" },
        );
        let mut r = match run_child(&job) {
            Ok(r) => r,
            Err(e) if opts.json => {
                let e = serde_json::json!({"setting": s.arg(), "error": e});
                println!("{e}");
                continue;
            }
            Err(e) => {
                println!("{labels} failed: {} |||||||||", e.replace('|', "/"));
                continue;
            }
        };
        let step_s = r["step_s"].as_f64().unwrap_or(f64::NAN);
        let tflops = costs.map(|c| step_gflop(s, Setting::M, c) / 1e3 / step_s);
        let peak = opts
            .peak_tflops
            .map(|(f32, bf16)| if s.bf16 > 0 { bf16 } else { f32 });
        if opts.json {
            r["scale"] = opts.scale.name().into();
            r["image"] = image.into();
            r["batch"] = opts.batch.into();
            r["device"] = opts.device.to_string().into();
            if let Some(t) = tflops {
                r["model_tflops"] = t.into();
                if let Some(p) = peak {
                    r["peak_fraction"] = (t / p).into();
                }
            }
            println!("{r}");
            continue;
        }
        let mib = |k: &str| r[k].as_f64().unwrap_or(f64::NAN) / 1024.0;
        let trainable = r["trainable"].as_f64().unwrap_or(f64::NAN);
        let reserved = mib("reserved_kb");
        let dash = || "–".to_string();
        println!(
            "{labels} {step_s:.2} | {:.0} | {:.0} | {} | {} | {:.2} | {} | {} |",
            mib("steady_kb"),
            mib("peak_kb") - mib("steady_kb"),
            if reserved >= 0.0 {
                format!("{reserved:.0}")
            } else {
                dash()
            },
            trainable as u64,
            trainable * 8.0 / 1048576.0,
            tflops.map_or_else(dash, |t| format!("{t:.2}")),
            tflops
                .zip(peak)
                .map_or_else(dash, |(t, p)| format!("{:.1}", 100.0 * t / p)),
        );
    }
    if opts.json {
        return;
    }
    println!();
    println!(
        "| real denoiser (f32) | parameters | LoRA r=4 parameters | weights GB | full FT: + grads + AdamW GB | LoRA: + grads + AdamW GB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let gb = |n: usize| n as f64 / 1e9;
    for (name, p, l) in real_sizes() {
        println!(
            "| {name} | {p} | {l} ({:.3}%) | {:.1} | {:.1} | {:.3} |",
            100.0 * l as f64 / p as f64,
            gb(4 * p),
            gb(4 * p + 12 * p),
            gb(4 * p + 12 * l),
        );
    }
}

/// `unet/config.json` of `stable-diffusion-v1-5/stable-diffusion-v1-5` (the keys that differ
/// from diffusers' defaults).
const SD15_UNET: &str = r#"{"sample_size": 64, "cross_attention_dim": 768, "attention_head_dim": 8,
  "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}"#;

/// `unet/config.json` of `stabilityai/stable-diffusion-xl-base-1.0`.
const SDXL_UNET: &str = r#"{"sample_size": 128, "cross_attention_dim": 2048, "attention_head_dim": [5, 10, 20],
  "block_out_channels": [320, 640, 1280], "layers_per_block": 2, "transformer_layers_per_block": [1, 2, 10],
  "use_linear_projection": true, "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
  "projection_class_embeddings_input_dim": 2816,
  "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
  "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]}"#;

/// `transformer/config.json` of `stabilityai/stable-diffusion-3-medium-diffusers`.
const SD3_MEDIUM: &str = r#"{"sample_size": 128, "patch_size": 2, "in_channels": 16, "num_layers": 24,
  "attention_head_dim": 64, "num_attention_heads": 24, "joint_attention_dim": 4096,
  "caption_projection_dim": 1536, "pooled_projection_dim": 2048, "out_channels": 16,
  "pos_embed_max_size": 192}"#;

/// Parameter counts of the real denoisers (built from their configs; burn initialises
/// parameters lazily, so nothing of their size is allocated) and of rank-4 LoRA on the
/// default targets: `(name, parameters, LoRA parameters)`.
fn real_sizes() -> Vec<(&'static str, usize, usize)> {
    use adt::models::diffusion::{Sd3TransformerConfig, UNet2DConditionConfig};
    let d = Device::flex();
    let lora = |m: &dyn Fn() -> usize| m();
    let count = |name, params, lora_params| (name, params, lora_params);
    let mut out = Vec::new();
    for (name, json) in [("SD1.5 UNet", SD15_UNET), ("SDXL UNet", SDXL_UNET)] {
        let config: UNet2DConditionConfig = serde_json::from_str(json).expect("config");
        let unet = UNet2DConditionModel::new(&config, &d).expect("unet");
        let p = unet.num_params();
        let l = lora(&|| lora_params(unet.clone()));
        out.push(count(name, p, l));
    }
    let config: Sd3TransformerConfig = serde_json::from_str(SD3_MEDIUM).expect("config");
    let mmdit = adt::models::diffusion::Sd3Transformer2DModel::new(&config, &d).expect("mmdit");
    let p = mmdit.num_params();
    out.push(count("SD3-medium MMDiT", p, lora_params(mmdit)));
    out
}

fn lora_params<M: Module>(m: M) -> usize {
    let m = adt::plugin::lora::apply_lora(m, &LoraConfig::new(4), &mut EngineRng::new(0))
        .expect("LoRA");
    adt::plugin::lora::adapters(&m)
        .iter()
        .map(|a| a.a.num_elements() + a.b.num_elements())
        .sum()
}
