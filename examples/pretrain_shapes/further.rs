//! `--continue-from DIR`: train the UNet + text encoder of an earlier output folder further
//! (same VAE, tokenizer, schedule and ViTs), e.g. on a GPU after a CPU run. The folder's
//! README keeps its history and gets a section on the continuation.

use std::path::Path;
use std::time::Instant;

use adt::assets::{MANIFEST, list_files};
use adt_clip::ClipTokenizer;
use adt_family::image_io::{grid, save_png, to_rgb8};
use adt_models_common::{ModelSource, save_safetensors};
use adt_schedulers::{NoiseSchedule, PredictionType, SchedulerConfig};
use adt_sd15::Sd15Model;
use anyhow::{Context, Result, bail};
use burn::prelude::*;

use crate::unet::{self, TextToImage};
use crate::vit::{self, format_accuracy};
use crate::{Args, DDIM_STEPS, GUIDANCE, SAMPLES, Staging, data, sample_and_score};

pub fn run(args: &Args, from: &Path, device: &Device) -> Result<()> {
    let out = &args.out;
    if !from.join(MANIFEST).is_file() {
        bail!(
            "{}: no {MANIFEST}, not an output folder of this example",
            from.display()
        );
    }
    if out.exists() && std::fs::canonicalize(out)? == std::fs::canonicalize(from)? {
        bail!("--out must differ from --continue-from (the source is copied first)");
    }
    let staging = Staging::begin(out)?;
    let out = &staging.dir;
    for rel in list_files(from)? {
        let dst = out.join(&rel);
        std::fs::create_dir_all(dst.parent().expect("a file in a folder"))?;
        std::fs::copy(from.join(&rel), &dst).with_context(|| format!("copying {rel}"))?;
    }
    let t = Instant::now();
    let ad = device.clone().autodiff();
    let sd = Sd15Model::from_pretrained(&ModelSource::Local(out.clone()), &ad)?;
    let tokenizer: ClipTokenizer = sd.conditioner.tokenizer.clone();
    let text_config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        out.join("text_encoder/config.json"),
    )?)?;
    let vocab_size = text_config["vocab_size"]
        .as_u64()
        .context("text_encoder vocab_size")? as usize;
    let vae = sd.codec.vae.clone().valid();
    // The folder's objective carries on; `--v-zero-snr` switches an ε folder to v.
    let sched_path = out.join("scheduler/scheduler_config.json");
    let read_scheduler = || -> Result<SchedulerConfig> {
        Ok(SchedulerConfig::from_json(
            &std::fs::read_to_string(&sched_path)?,
            "scheduler/scheduler_config.json",
        )?)
    };
    let mut scheduler = read_scheduler()?;
    let was_v = scheduler.prediction_type() == PredictionType::VPrediction;
    let switch = args.v_zero_snr && !was_v;
    let objective = if args.v_zero_snr || was_v {
        unet::Objective::VZeroSnr
    } else {
        unet::Objective::Epsilon
    };
    if switch {
        crate::tokenizer::write_json(&sched_path, &crate::scheduler_json(objective))?;
        scheduler = read_scheduler()?;
    }
    let schedule = NoiseSchedule::for_training(&scheduler)?;
    let domain = data::domain(args.seed);
    let steps = ((args.unet_steps as f64 * args.scale).round() as usize).max(2);
    let (t2i, report) = unet::train(&unet::Setup {
        domain: &domain,
        vae: &vae,
        tokenizer: &tokenizer,
        schedule: &schedule,
        vocab_size,
        seed: args.seed + 100,
        steps,
        batch: args.unet_batch,
        pool: args.pool.min(steps * args.unet_batch),
        log_every: (steps / 20).max(1),
        lr: args.unet_lr,
        device: device.clone(),
        init: Some(TextToImage {
            unet: sd.denoiser.unet,
            text_encoder: sd.conditioner.text_encoder,
        }),
        snr_weight_cap: args.snr_weight_cap,
        objective,
        time_budget: args.unet_seconds,
    })?;
    t2i.unet.save_pretrained(&out.join("unet"))?;
    save_safetensors(
        &t2i.text_encoder,
        &out.join("text_encoder/model.safetensors"),
        &[],
    )?;
    let train_s = t.elapsed().as_secs_f64();

    // Redraw and rescore the samples with the folder as reloaded.
    let eval_net = vit::load_eval_net(&out.join("dinov2_eval"), device)?;
    let (generated, gen_acc) =
        sample_and_score(out, &domain, &eval_net, args.seed, GUIDANCE, device)?;
    eprintln!(
        "[samples] eval-net accuracy on {SAMPLES} generated: {}",
        format_accuracy(&gen_acc)
    );
    save_png(
        &data::upscale(&grid(&to_rgb8(generated)[..16], 4)),
        &out.join("samples.png"),
    )?;

    let pct = |a: f64| format!("{:.1}%", 100.0 * a);
    let names: Vec<&str> = data::heads().iter().map(|(n, _)| *n).collect();
    let section = format!(
        "\n## Continued training (supersedes the UNet, text encoder and generated-image numbers above)\n\n\
         The UNet and text encoder above were then trained further, starting from those weights, \
         with everything else unchanged (PREVIOUS = the folder the command above wrote):\n\n```sh\n\
         cargo run --release{} --example pretrain_shapes -- --continue-from PREVIOUS --out {} \
         --seed {} --unet-steps {} --unet-batch {} --unet-lr {} --pool {} --device {}{}{}{}\n```\n\n\
         {} steps × batch {} of the {}-loss{}{} (seed {} for the draws, a fresh pool of {} train images, \
         AdamW lr {} with warm-up min(200, steps/10) and cosine to a tenth, EMA {} restarted from \
         the loaded weights); last running {}-MSE {:.4}; {:.2} s per step, {:.0} s in all on {}.\n\n\
         Generated images scored by dinov2_eval ({SAMPLES} held-out captions, DDIM {DDIM_STEPS}, \
         CFG {GUIDANCE}), `samples.png` redrawn:\n\n| images | {} |\n|---|{}\n| generated | {} |\n",
        if args.device == adt::device::DeviceArg::Cpu {
            ""
        } else {
            " --features wgpu"
        },
        args.out.display(),
        args.seed,
        steps,
        args.unet_batch,
        args.unet_lr,
        report.pool,
        args.device,
        args.snr_weight_cap
            .map_or(String::new(), |c| format!(" --snr-weight-cap {c}")),
        if switch { " --v-zero-snr" } else { "" },
        args.unet_seconds
            .map_or(String::new(), |b| format!(" --unet-seconds {b}")),
        report.steps,
        args.unet_batch,
        objective.name(),
        if switch {
            " (switched from ε: v-prediction on SD1.5's betas rescaled to zero terminal SNR, \
             trailing spacing; the scheduler config is rewritten to match)"
        } else {
            ""
        },
        args.snr_weight_cap.map_or(String::new(), |c| format!(
            ", each sample weighted by clamp(1/SNR(t), 1, {c})"
        )),
        args.seed + 100,
        report.pool,
        args.unet_lr,
        unet::EMA_DECAY,
        objective.name(),
        report.final_loss,
        report.sec_per_step,
        train_s,
        args.device,
        names.join(" | "),
        "---|".repeat(5),
        gen_acc
            .iter()
            .map(|&a| pct(a))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    let readme = out.join("README.md");
    let mut text = std::fs::read_to_string(&readme).unwrap_or_default();
    text.push_str(&section);
    std::fs::write(&readme, text)?;
    let out = staging.finish()?;
    eprintln!(
        "done in {:.0}s: {}",
        t.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
