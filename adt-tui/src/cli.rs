//! Command-line arguments, shared by the `adt-tui` binary and the `adt` CLI
//! (`adt watch RUN_DIR` can embed [`WatchArgs`] as a subcommand and call [`WatchArgs::run`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::app::{WatchOptions, snapshot, watch};
use crate::image::ImageMode;
use crate::ui::{DEFAULT_WINDOW, Page};

/// Watch a run directory: tail events.jsonl and samples/ and draw the dashboard.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The run directory (`runs/NAME`); it may not exist yet.
    pub run_dir: PathBuf,
    /// How often events.jsonl is polled, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub refresh_ms: u64,
    /// Steps in the recent (zoomed) window (`z` toggles it, `+`/`-` resize it).
    #[arg(long, default_value_t = DEFAULT_WINDOW)]
    pub window: usize,
    /// Image protocol for the samples: query the terminal, half-blocks, or none.
    #[arg(long, value_enum, default_value_t = ImageMode::Auto)]
    pub images: ImageMode,
    /// Plain lines instead of the dashboard (automatic when stdout is not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Print what is in the run directory now (plain) and exit.
    #[arg(long)]
    pub once: bool,
}

impl WatchArgs {
    pub fn run(&self) -> anyhow::Result<()> {
        watch(&WatchOptions {
            run_dir: self.run_dir.clone(),
            refresh: Duration::from_millis(self.refresh_ms.max(10)),
            window: self.window.max(10),
            images: self.images,
            plain: self.plain,
            once: self.once,
        })
    }
}

/// Which page a snapshot shows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PageArg {
    Overview,
    Samples,
}

/// Render one frame of the dashboard for a run directory as text (no terminal needed).
#[derive(Debug, Clone, clap::Args)]
pub struct SnapshotArgs {
    pub run_dir: PathBuf,
    #[arg(long, default_value_t = 100)]
    pub width: u16,
    #[arg(long, default_value_t = 30)]
    pub height: u16,
    #[arg(long, value_enum, default_value_t = PageArg::Overview)]
    pub page: PageArg,
    /// `off` to leave images out of the capture.
    #[arg(long, value_enum, default_value_t = ImageMode::Halfblocks)]
    pub images: ImageMode,
}

impl SnapshotArgs {
    pub fn run(&self) -> anyhow::Result<()> {
        let page = match self.page {
            PageArg::Overview => Page::Overview,
            PageArg::Samples => Page::Samples,
        };
        let text = snapshot(&self.run_dir, self.width, self.height, page, self.images)?;
        print!("{text}");
        Ok(())
    }
}

/// `adt-tui` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Watch a run directory live (attach/detach freely; training is not affected).
    Watch(WatchArgs),
    /// Print one frame of the dashboard as text.
    Snapshot(SnapshotArgs),
}

/// The `adt-tui` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "adt-tui",
    version,
    about = "Terminal dashboard for adversarial diffusion tuning"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn run(&self) -> anyhow::Result<()> {
        match &self.command {
            Command::Watch(a) => a.run(),
            Command::Snapshot(a) => a.run(),
        }
    }
}
