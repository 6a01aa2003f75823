//! End-to-end ADT run on the toy models (CPU, flex): ~50 steps into `runs/tiny/` (or the path
//! given), writing config.toml, events.jsonl and checkpoints/, printing one line per step.
//!
//! `cargo run --release -p adt-plugin --example tiny_run [-- RUN_DIR [--resume]]`

use std::path::PathBuf;

use adt_plugin::AdtConfig;
use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use burn::prelude::*;

/// mimalloc: per-thread heaps for the shards' allocations (adt_plugin::host).
#[global_allocator]
static ALLOCATOR: adt_plugin::host::Allocator = adt_plugin::host::Allocator;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // CPU settings (adt_plugin::host): freed tensor buffers stay in the process, and the
    // work runs on a thread of rayon's pool, which burn-flex's parallel ops use.
    adt_plugin::host::keep_freed_memory();
    adt_plugin::host::run_in_pool(run)
}

fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resume = args.iter().any(|a| a == "--resume");
    let run_dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("runs/tiny"));
    if !resume && run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)?;
    }
    let device = Device::flex().autodiff();
    let config = AdtConfig {
        total_steps: 50,
        checkpoint_every: 25,
        m: 8,
        ..toy_config()
    };
    println!(
        "adt tiny run: {} steps, m = {}, K = {}, into {}",
        config.total_steps,
        config.m,
        config.k,
        run_dir.display()
    );
    let trainer = ToyParts::new(ToySizes::default(), 1, &device)
        .trainer(config, 64, 16, &device)?
        .resume(resume)
        .on_step(|step, m| println!("{}", m.progress_line(step, None)));
    let report = trainer.run(&run_dir)?;
    println!(
        "finished at step {} ({:?}); run directory: {}",
        report.step,
        report.status,
        run_dir.display()
    );
    Ok(())
}
