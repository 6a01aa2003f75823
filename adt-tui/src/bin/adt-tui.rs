//! `adt-tui watch RUN_DIR` / `adt-tui snapshot RUN_DIR`.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    adt_tui::cli::Cli::parse().run()
}
