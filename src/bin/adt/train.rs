//! `adt train`, `adt resume`, `adt export`.

use std::path::PathBuf;

use adt::models::family::lora::LoraFormat;
use adt::plugin::checkpoint::GeneratorWeights;
use adt::train::{
    Display, ExportDtype, ExportKind, TrainConfig, export_denoiser, run_config, train,
};
use anyhow::Result;

use adt::device::DeviceArg;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The run config (TOML: out, [model], [discriminator], [data], [adt], [validation]).
    #[arg(long)]
    config: PathBuf,
    /// Override a config value, e.g. `--set adt.k=2 --set data.source.file=x.jsonl`
    /// (values in TOML syntax; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    plain: bool,
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
    /// Data parallel on this many devices of --device (wgpu: the first N discrete GPUs), one
    /// process: each step's `grad_accum × N` micro-batches of `batch_size` are spread over
    /// them and their gradients summed on the first.
    #[arg(long, default_value_t = 1)]
    devices: usize,
}

impl TrainArgs {
    pub fn run(&self) -> Result<()> {
        let config = TrainConfig::load(&self.config, &self.overrides)?;
        let devices = self
            .device
            .devices(self.devices)
            .map_err(anyhow::Error::msg)?;
        train(&config, false, &devices, display(self.plain))?;
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// A run directory written by `adt train`.
    run_dir: PathBuf,
    /// Raise the step budget (`adt.total_steps`) to continue past the planned end.
    #[arg(long)]
    total_steps: Option<usize>,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    plain: bool,
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
    /// Data parallel on this many devices: the count the run was started with (it sets the
    /// global batch, `grad_accum × devices × batch_size`; another count is refused).
    #[arg(long, default_value_t = 1)]
    devices: usize,
}

impl ResumeArgs {
    pub fn run(&self) -> Result<()> {
        let mut config = run_config(&self.run_dir)?;
        if let Some(n) = self.total_steps {
            config.adt.total_steps = n;
        }
        let devices = self
            .device
            .devices(self.devices)
            .map_err(anyhow::Error::msg)?;
        train(&config, true, &devices, display(self.plain))?;
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A run directory written by `adt train`.
    run_dir: PathBuf,
    /// Output folder; the denoiser goes to OUT/unet (UNet families) in diffusers layout.
    #[arg(long)]
    out: PathBuf,
    /// Checkpoint step (default: the latest).
    #[arg(long)]
    step: Option<usize>,
    /// Export the live weights even when the run kept an EMA.
    #[arg(long)]
    no_ema: bool,
    /// A LoRA run ([adt.lora]): write its adapters as a LoRA file,
    /// OUT/pytorch_lora_weights.safetensors (diffusers' `load_lora_weights(OUT)`), or with
    /// --lora-format kohya OUT/<run name>.safetensors (kohya/A1111/ComfyUI).
    #[arg(long, conflicts_with = "merge_lora")]
    lora: bool,
    /// The LoRA file's layout: `peft` (diffusers) or `kohya`.
    #[arg(long, value_name = "FORMAT", default_value = "peft", requires = "lora",
          value_parser = |s: &str| s.parse::<LoraFormat>())]
    lora_format: LoraFormat,
    /// A LoRA run: write full weights with the adapters merged in (OUT/unet or OUT/transformer).
    #[arg(long)]
    merge_lora: bool,
    /// The exported tensors' dtype (training keeps f32; `f16` or `bf16` halve the file).
    #[arg(long, value_enum, default_value_t)]
    dtype: ExportDtype,
}

impl ExportArgs {
    pub fn run(&self) -> Result<()> {
        let which = if self.no_ema {
            GeneratorWeights::Live
        } else {
            GeneratorWeights::Preferred
        };
        let kind = if self.lora {
            ExportKind::Lora(self.lora_format)
        } else if self.merge_lora {
            ExportKind::MergedLora
        } else {
            ExportKind::Full
        };
        let r = export_denoiser(
            &self.run_dir,
            self.step,
            which,
            kind,
            self.dtype,
            &self.out,
            &DeviceArg::Cpu.device(),
        )?;
        println!(
            "exported step {} ({}) to {}",
            r.step,
            r.weights.display(),
            r.written.display()
        );
        Ok(())
    }
}

fn display(plain: bool) -> Display {
    if plain { Display::Plain } else { Display::Auto }
}
