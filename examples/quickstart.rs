//! The main job on the embedded default: ADT vs plain fine-tuning vs the base model on the
//! shipped tiny SD-architecture pipeline, on CPU with no downloads (see `adt::quickstart`).
//!
//! `cargo run --release --example quickstart [-- --out runs/quickstart --steps 300]`

use anyhow::Result;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "ADT vs plain fine-tuning vs the base model on the shipped shapes pipeline")]
struct Cli {
    #[command(flatten)]
    args: adt::quickstart::Args,
}

/// mimalloc: per-thread heaps for the shards' allocations (adt_plugin::host).
#[global_allocator]
static ALLOCATOR: adt_plugin::host::Allocator = adt_plugin::host::Allocator;

fn main() -> Result<()> {
    // CPU settings (adt_plugin::host): freed tensor buffers stay in the process, and the
    // work runs on a thread of rayon's pool, which burn-flex's parallel ops use.
    adt_plugin::host::keep_freed_memory();
    adt_plugin::host::run_in_pool(run)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let outcome = adt::quickstart::run(&cli.args)?;
    println!("{}", outcome.table);
    println!("report: {}", outcome.out.join("report.md").display());
    Ok(())
}
