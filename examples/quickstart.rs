//! The main job on the embedded default: an ADT run end to end on CPU, no downloads.
//!
//! Until the embedded SD-architecture default ships, this tunes the engine's toy
//! models (a tiny pixel-space denoiser, latent codec, conditioner and patch backbone,
//! `adt_plugin::toy`) on procedurally generated coloured squares: alternating
//! discriminator and generator updates through the simulated sampler, with
//! checkpoints, `events.jsonl` and the dashboard (plain progress lines without a TTY).
//!
//! `cargo run --release --example quickstart [-- RUN_DIR [--resume] [--steps N]]`

use std::path::PathBuf;

use adt::plugin::AdtConfig;
use adt::plugin::toy::{ToyParts, ToySizes, toy_config};
use adt::train::{Display, with_display};
use anyhow::{Context, Result};
use burn::prelude::*;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resume = args.iter().any(|a| a == "--resume");
    let steps = match args.iter().position(|a| a == "--steps") {
        Some(i) => args
            .get(i + 1)
            .context("--steps needs a number")?
            .parse()
            .context("--steps")?,
        None => 200,
    };
    let run_dir = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--steps"))
        .map(|(_, a)| PathBuf::from(a))
        .unwrap_or_else(|| PathBuf::from("runs/quickstart"));
    if !resume && run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)
            .with_context(|| format!("clearing the previous run {}", run_dir.display()))?;
    }

    let device = Device::flex().autodiff();
    let config = AdtConfig {
        total_steps: steps,
        checkpoint_every: 50,
        m: 8,
        ..toy_config()
    };
    eprintln!(
        "adt quickstart: {} ADT steps (m = {}, K = {}) on the toy models into {}",
        config.total_steps,
        config.m,
        config.k,
        run_dir.display()
    );
    let trainer = ToyParts::new(ToySizes::default(), 1, &device)
        .trainer(config, 256, 16, &device)?
        .resume(resume);
    let trainer = with_display(trainer, &run_dir, None, Display::Auto);
    let report = trainer.run(&run_dir)?;
    println!(
        "finished at step {} ({:?}); run directory: {}",
        report.step,
        report.status,
        run_dir.display()
    );
    Ok(())
}
