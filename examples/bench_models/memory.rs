//! `--memory`: peak memory and time of one ADT step and one plain `L_diff` step on the
//! `unet_small` UNet (SD1.5 layout, widths 32/64/128/128) in f32 and bf16, with and without
//! gradient checkpointing and LoRA (rank 4 on `to_q`, `to_k`, `to_v`, `to_out.0`).
//!
//! ```text
//! cargo run --release --example bench_models -- --memory
//! ```
//!
//! Parts: the `unet_small` UNet (trainable), the `vae_small` VAE (frozen; its decoder is in
//! the G step's graph), DINOv2-S at 112×112 (frozen backbone, 8×8 patches) with the default
//! heads, a toy text encoder (4 tokens of width 256; frozen, its cost is not the point).
//! 128×128 images (16×16 latents), batch 2, m = 4 sampler steps from noise (`start_policy =
//! full`), K = 1, AdamW for both players, f32 on the CPU (flex).
//!
//! Method. Each configuration runs in a fresh child process (this binary with
//! `--memory-child`): build, one warm-up step (allocates the optimizer state), then the
//! resident set is the *steady state* (weights + optimizer state + allocator caches) and the
//! peak is reset (`/proc/self/clear_refs` = 5); one timed step follows and its peak resident
//! set (`VmHWM`) minus the steady state is the step's transient memory: activations kept
//! for backward, gradients, and temporaries. The children run with a fixed glibc mmap
//! threshold (`MALLOC_MMAP_THRESHOLD_=131072`) so freed tensors leave the resident set.

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

/// The engine's components of this benchmark.
#[derive(Clone, Debug)]
struct Bench;

impl Components for Bench {
    type Denoiser = UnetDenoiser;
    type Codec = VaeCodec;
    type Conditioner = ToyConditioner;
    type Backbone = Dinov2Discriminator;
}

const BATCH: usize = 2;
const IMAGE: usize = 128;

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
    bf16: bool,
    checkpointing: bool,
    lora: bool,
}

impl Setting {
    fn all() -> Vec<Self> {
        let mut v = Vec::new();
        for adversarial in [false, true] {
            for lora in [false, true] {
                for bf16 in [false, true] {
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
            self.adversarial as u8, self.bf16 as u8, self.checkpointing as u8, self.lora as u8
        )
    }

    fn parse(s: &str) -> Self {
        let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
        Self {
            adversarial: b[0],
            bf16: b[1],
            checkpointing: b[2],
            lora: b[3],
        }
    }

    fn config(self) -> AdtConfig {
        AdtConfig {
            adversarial: self.adversarial,
            precision: if self.bf16 {
                Precision::Bf16
            } else {
                Precision::F32
            },
            gradient_checkpointing: self.checkpointing,
            lora: self.lora.then(|| LoraConfig::new(4)),
            m: 4,
            k: 1,
            start_policy: StartPolicy::Full,
            batch_size: BATCH,
            bn_group: 2,
            total_steps: 100,
            ..AdtConfig::default()
        }
    }
}

fn child(setting: Setting) {
    let plain = Device::flex();
    let d = if setting.checkpointing {
        plain.autodiff().gradient_checkpointing()
    } else {
        plain.autodiff()
    };
    let unet = UNet2DConditionModel::new(&unet_config(), &d).expect("unet_small");
    let vae = AutoencoderKL::new(&vae_config(), &d).expect("vae_small");
    let dino = Dinov2Model::new(&vit_s14(), &d);
    let layers = dino.config().num_hidden_layers;
    let backbone = Dinov2Backbone::new(
        dino,
        BackboneConfig {
            input_size: [112, 112],
            ..Default::default()
        },
    )
    .expect("backbone");
    let mut rng = EngineRng::new(0);
    let ddim = std::sync::Arc::new(LinearDdim::new(Prediction::Epsilon));
    let parts: Parts<Bench> = Parts {
        generator: UnetDenoiser::new(unet, Prediction::Epsilon),
        codec: VaeCodec::new(vae),
        conditioner: ToyConditioner::new(64, 256, 4, &mut rng, &d),
        backbone: Dinov2Discriminator::new(backbone, Dinov2Discriminator::default_taps(layers))
            .expect("taps"),
        schedule: ddim.clone(),
        sampler: ddim,
    };
    let config = setting.config();
    let mut model =
        AdtModel::<Bench>::from_parts(config.clone(), parts, &mut rng, &d).expect("model");
    let params = model.generator.num_params();
    let trainable = trainable_params(&model.generator);
    let images = rng
        .normal_tensor([BATCH, 3, IMAGE, IMAGE], &d)
        .mul_scalar(0.5)
        .clamp(-1.0, 1.0);
    let batch = AdtBatch::new(images, vec!["a red disc".into(), "a blue square".into()]);
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
        times.push(t.elapsed().as_secs_f64());
    }
    let peak = status_kb("VmHWM:");
    println!(
        "{{\"setting\":\"{}\",\"step_s\":{},\"steady_kb\":{steady},\"peak_kb\":{peak},\"params\":{params},\"trainable\":{trainable}}}",
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

fn run_child(setting: Setting) -> serde_json::Value {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--memory-child", &setting.arg()])
        // A fixed glibc mmap threshold: every tensor above 128 KiB is its own mapping and
        // goes back to the OS when freed, so the resident set follows live memory (glibc's
        // default raises the threshold after frees and keeps freed tensors resident).
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .output()
        .expect("spawn child");
    assert!(
        out.status.success(),
        "child {setting:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("child printed no JSON");
    serde_json::from_str(line).expect("child JSON")
}

/// `--memory-child SETTING` (internal) or `--memory`: the table on stdout.
pub fn main(child_setting: Option<&str>) {
    if let Some(s) = child_setting.filter(|s| *s != "sizes") {
        return child(Setting::parse(s));
    }
    if child_setting == Some("sizes") {
        let t = Instant::now();
        for (name, p, l) in real_sizes() {
            println!(
                "{name}: {p} params, LoRA r=4 {l} ({:.3}%)",
                100.0 * l as f64 / p as f64
            );
        }
        println!("{:.1} s", t.elapsed().as_secs_f64());
        return;
    }
    println!(
        "| step | precision | checkpointing | LoRA | step s | steady MiB | step peak above steady MiB | trainable params | AdamW state MiB |"
    );
    println!("|---|:---:|:---:|:---:|---:|---:|---:|---:|---:|");
    for s in Setting::all() {
        let r = run_child(s);
        let mib = |k: &str| r[k].as_f64().unwrap_or(f64::NAN) / 1024.0;
        let trainable = r["trainable"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {} | {:.2} |",
            if s.adversarial { "ADT" } else { "plain" },
            if s.bf16 { "bf16" } else { "f32" },
            if s.checkpointing { "on" } else { "off" },
            if s.lora { "r=4" } else { "off" },
            r["step_s"].as_f64().unwrap_or(f64::NAN),
            mib("steady_kb"),
            mib("peak_kb") - mib("steady_kb"),
            trainable as u64,
            trainable * 8.0 / 1048576.0,
        );
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
