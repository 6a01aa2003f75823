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

fn main() -> Result<()> {
    // Freed tensor buffers stay in the process (CPU speed; adt_plugin::allocator).
    adt_plugin::allocator::keep_freed_memory();
    let cli = Cli::parse();
    let outcome = adt::quickstart::run(&cli.args)?;
    println!("{}", outcome.table);
    println!("report: {}", outcome.out.join("report.md").display());
    Ok(())
}
