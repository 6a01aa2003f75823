//! `adt` — the command-line front end of Adversarial Diffusion Tuning.
//!
//! - `adt forward KIND --model DIR --inputs IN.safetensors --out OUT.safetensors` runs one
//!   zoo model on named inputs (diffusers'/transformers' argument and output names), so a
//!   checkpoint can be checked against the Python reference.
//! - `adt train --config RUN.toml [--set key=value]`, `adt resume RUN_DIR`, `adt export RUN_DIR
//!   --out DIR`: tune an SD1.x checkpoint, continue, and write the tuned UNet for diffusers.
//! - `adt sample PROMPT... --model SD15` writes PNGs (txt2img, or img2img with `--init`).
//! - `adt watch RUN_DIR` opens the dashboard on a run directory (as `adt-tui watch`).

mod eval;
mod forward;
mod sample;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "adt", version, about = "Adversarial Diffusion Tuning for burn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one model of the zoo on a safetensors file of inputs and write its outputs.
    Forward(forward::ForwardArgs),
    /// Train (ADT or plain fine-tune) from a TOML run config.
    Train(train::TrainArgs),
    /// Continue a run from its latest checkpoint.
    Resume(train::ResumeArgs),
    /// Write a run's tuned UNet in diffusers layout.
    Export(train::ExportArgs),
    /// Generate images with an SD1.x checkpoint (base or tuned), any sampler.
    Sample(sample::SampleArgs),
    /// Fréchet distance of generated vs held-out shapes images over a sampler/steps/CFG grid.
    Eval(eval::EvalArgs),
    /// Watch a run directory in the terminal dashboard (works over SSH while training runs).
    Watch(adt::tui::cli::WatchArgs),
}

/// mimalloc: per-thread heaps for the shards' allocations (adt_plugin::host).
#[global_allocator]
static ALLOCATOR: adt_plugin::host::Allocator = adt_plugin::host::Allocator;

fn main() -> anyhow::Result<()> {
    // CPU settings (adt_plugin::host): freed tensor buffers stay in the process, and the
    // work runs on a thread of rayon's pool, which burn-flex's parallel ops use.
    adt_plugin::host::keep_freed_memory();
    adt_plugin::host::run_in_pool(run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Forward(args) => args.run(),
        Command::Train(args) => args.run(),
        Command::Resume(args) => args.run(),
        Command::Export(args) => args.run(),
        Command::Sample(args) => args.run(),
        Command::Eval(args) => args.run(),
        Command::Watch(args) => args.run(),
    }
}
