//! Model benchmarks shared with the PyTorch reference: the exact cases of
//! `shared/bench-cases.md` (`unet_small_fwd`, `unet_small_fwd_bwd`, `vae_small_decode`,
//! `vae_small_decode_bwd`, `dinov2_s_fwd`, `dinov2_s_input_grad`, `matmul_2048`).
//!
//! Random weights and inputs, f32. Each case is built untimed, warmed up, then repeated
//! for at least `--seconds` (and at least 5 runs); the median is reported next to
//! PyTorch's median from `bench-cases.md` (`ratio` = ours / PyTorch, below 1 is faster).
//! The clock stops only after the device has finished the work (`Device::sync`, with
//! the outputs still alive), so GPU timings are not just launch times; outputs and
//! gradients are dropped after the clock stops.
//!
//! ```text
//! cargo run --release --example bench_models -- --json                 # all cases
//! cargo run --release --example bench_models -- --case unet_small_fwd,matmul_2048
//! cargo run --release --example bench_models -- --case dinov2_s_fwd --seconds 10
//! cargo run --release --features wgpu --example bench_models -- --device wgpu
//! cargo run --release --example bench_models -- --memory   # training-step memory (memory.rs)
//! ```
//!
//! With `--json`, one object per case per line: `case`, `median_ms`, `min_ms`, `max_ms`,
//! `runs`, `device`, `threads`, `params` (model cases), `gflop`, `gflop_per_s`,
//! `pytorch_ms`, `ratio`, `cpu_ms_per_run` (process CPU time per timed run, all threads:
//! the figure to trust when other work shares the machine), `load1` (the 1-minute load
//! average when the case started).
//! Without it, a table.

mod diffusion;
mod dinov2;
mod memory;

use std::any::Any;
use std::time::{Duration, Instant};

use adt::device::DeviceArg;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;

/// Whatever a step produced (outputs, gradients): kept alive until the device has been
/// synchronised and the clock stopped, then dropped untimed.
pub type Keep = Box<dyn Any>;

/// One case, ready to run: model built, inputs drawn.
pub struct Prepared {
    /// Parameters of the model part the case runs (checked against `bench-cases.md`).
    pub params: Option<usize>,
    pub step: Box<dyn FnMut() -> Keep>,
}

/// A case of `bench-cases.md` with PyTorch's reference figures.
struct Case {
    name: &'static str,
    /// PyTorch CPU median, torch 2.15, 2 threads (bench-cases.md).
    pytorch_ms: f64,
    /// matmul/conv/attention GFLOP per run (bench-cases.md).
    gflop: f64,
    prepare: fn(&Device) -> Prepared,
}

const CASES: [Case; 7] = [
    Case {
        name: "unet_small_fwd",
        pytorch_ms: 150.0,
        gflop: 5.29,
        prepare: diffusion::unet_fwd,
    },
    Case {
        name: "unet_small_fwd_bwd",
        pytorch_ms: 516.0,
        gflop: 16.51,
        prepare: diffusion::unet_fwd_bwd,
    },
    Case {
        name: "vae_small_decode",
        pytorch_ms: 253.0,
        gflop: 39.38,
        prepare: diffusion::vae_decode,
    },
    Case {
        name: "vae_small_decode_bwd",
        pytorch_ms: 507.0,
        gflop: 79.57,
        prepare: diffusion::vae_decode_bwd,
    },
    Case {
        name: "dinov2_s_fwd",
        pytorch_ms: 177.0,
        gflop: 24.49,
        prepare: dinov2::fwd,
    },
    Case {
        name: "dinov2_s_input_grad",
        pytorch_ms: 379.0,
        gflop: 52.64,
        prepare: dinov2::input_grad,
    },
    Case {
        name: "matmul_2048",
        pytorch_ms: 86.0,
        gflop: 17.18,
        prepare: matmul_2048,
    },
];

#[derive(Parser)]
#[command(about = "Model benchmarks of shared/bench-cases.md, side by side with PyTorch")]
struct Args {
    /// One JSON object per case per line.
    #[arg(long)]
    json: bool,
    /// Cases to run (repeat the flag or give a comma list); all when omitted.
    #[arg(long, value_delimiter = ',')]
    case: Vec<String>,
    /// Minimum seconds of timed repeats per case (at least 5 runs in any case).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Untimed warm-up runs per case.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Backend to run on (`cpu`, alias `flex`; `wgpu` with `--features wgpu`).
    #[arg(long, value_enum, default_value_t)]
    device: DeviceArg,
    /// Instead of the model cases: peak memory and time of an ADT and a plain training step
    /// with and without gradient checkpointing and LoRA (see `memory.rs`; CPU).
    #[arg(long)]
    memory: bool,
    /// Internal: one configuration of `--memory`, in a fresh process.
    #[arg(long, hide = true)]
    memory_child: Option<String>,
    /// `--memory`: the denoiser and VAE (`small`: bench-cases.md's; `sd15`, `sdxl`: the real
    /// architectures with random weights, for a GPU).
    #[arg(long, value_enum, default_value = "small")]
    memory_model: memory::Scale,
    /// `--memory`: image side (default: the model's native 128 / 512 / 1024).
    #[arg(long)]
    memory_image: Option<usize>,
    /// `--memory`: images per step.
    #[arg(long, default_value_t = 2)]
    memory_batch: usize,
    /// `--memory`: only these settings, four digits in the order adversarial (0/1), bf16 (0,
    /// 1 for the denoiser, 2 for everything), checkpointing (0/1), LoRA (0/1); e.g. `1211`;
    /// comma list.
    #[arg(long, value_delimiter = ',')]
    memory_only: Vec<String>,
    /// `--memory`: `docs/memory/step-costs.json` (scripts/report/step_costs.py), for the
    /// step's achieved model TFLOP/s.
    #[arg(long)]
    memory_flops: Option<std::path::PathBuf>,
    /// `--memory`: the device's peak TFLOP/s in f32 and in bf16 (`F32,BF16`, e.g. an H100
    /// SXM's dense `67,989`), for the fraction of peak.
    #[arg(long, value_delimiter = ',')]
    memory_peak_tflops: Vec<f64>,
}

/// Standard-normal tensor, as `torch.randn`.
pub fn randn<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Panics unless a model built from the in-code config has the documented size.
pub fn check_params(what: &str, got: usize, expected: usize) -> usize {
    assert_eq!(
        got, expected,
        "{what}: {got} parameters, bench-cases.md says {expected}: the config drifted"
    );
    eprintln!("{what}: {got} parameters (matches bench-cases.md)");
    got
}

/// `C = A @ B`, 2048² f32 each: the machine's GEMM peak, as PyTorch measures it.
fn matmul_2048(device: &Device) -> Prepared {
    let a = randn([2048, 2048], device);
    let b = randn([2048, 2048], device);
    Prepared {
        params: None,
        step: Box::new(move || Box::new(a.clone().matmul(b.clone()))),
    }
}

struct Timing {
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
    /// Process CPU time (all threads, user + system) per timed run, where known.
    cpu_per_run: Option<f64>,
}

fn time(prepared: &mut Prepared, device: &Device, warmup: usize, seconds: f64) -> Timing {
    let sync = || device.sync().expect("device sync");
    for _ in 0..warmup {
        let keep = (prepared.step)();
        sync();
        drop(keep);
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let cpu_start = adt::device::process_cpu_ms();
    let mut times = Vec::new();
    while times.len() < 5 || start.elapsed() < budget {
        let t0 = Instant::now();
        let keep = (prepared.step)();
        sync();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        drop(keep);
    }
    let cpu_per_run = cpu_start
        .zip(adt::device::process_cpu_ms())
        .map(|(a, b)| (b - a) / times.len() as f64);
    times.sort_by(f64::total_cmp);
    Timing {
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        runs: times.len(),
        cpu_per_run,
    }
}

/// The 1-minute load average (Linux), to judge how contended a measurement was.
fn load1() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn main() {
    let args = Args::parse();
    // CPU settings (adt_plugin::host): freed tensor buffers stay in the process, and the
    // work runs on a thread of rayon's pool, which burn-flex's parallel ops use. Not for
    // `--memory`: it reads a step's transient memory as the resident set's peak above the
    // steady state, which needs freed buffers returned to the OS (glibc's default).
    if !(args.memory || args.memory_child.is_some()) {
        adt_plugin::host::keep_freed_memory();
    }
    adt_plugin::host::run_in_pool(|| run(args))
}

fn run(args: Args) {
    if args.memory || args.memory_child.is_some() {
        return memory::main(
            args.memory_child.as_deref(),
            memory::Options {
                scale: args.memory_model,
                image: args.memory_image,
                batch: args.memory_batch,
                device: args.device,
                only: args.memory_only.clone(),
                json: args.json,
                flops: args.memory_flops.clone(),
                peak_tflops: match args.memory_peak_tflops[..] {
                    [] => None,
                    [f32, bf16] => Some((f32, bf16)),
                    _ => {
                        eprintln!("--memory-peak-tflops takes two numbers: F32,BF16");
                        std::process::exit(2)
                    }
                },
            },
        );
    }
    let selected: Vec<&Case> = if args.case.is_empty() {
        CASES.iter().collect()
    } else {
        args.case
            .iter()
            .map(|name| {
                CASES.iter().find(|c| c.name == name).unwrap_or_else(|| {
                    let known: Vec<_> = CASES.iter().map(|c| c.name).collect();
                    eprintln!("unknown case {name:?}; cases: {}", known.join(", "));
                    std::process::exit(2)
                })
            })
            .collect()
    };
    let device = args.device.device();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !args.json {
        println!(
            "device {}, {threads} hardware threads, >= {} s per case after {} warm-up runs",
            args.device.backend(),
            args.seconds,
            args.warmup
        );
        println!(
            "{:<22} {:>10} {:>10} {:>5} {:>9} {:>11} {:>7} {:>11} {:>6}",
            "case",
            "median ms",
            "min ms",
            "runs",
            "GFLOP/s",
            "PyTorch ms",
            "ratio",
            "CPU ms/run",
            "load"
        );
    }
    for case in selected {
        let load = load1();
        let mut prepared = (case.prepare)(&device);
        let t = time(&mut prepared, &device, args.warmup, args.seconds);
        let params = prepared.params;
        drop(prepared);
        let gflop_per_s = case.gflop / (t.median / 1e3);
        let ratio = t.median / case.pytorch_ms;
        if args.json {
            let mut line = serde_json::json!({
                "case": case.name,
                "median_ms": round2(t.median),
                "min_ms": round2(t.min),
                "max_ms": round2(t.max),
                "runs": t.runs,
                "device": args.device.backend(),
                "threads": threads,
                "gflop": case.gflop,
                "gflop_per_s": round2(gflop_per_s),
                "pytorch_ms": case.pytorch_ms,
                "ratio": round2(ratio),
            });
            if let Some(p) = params {
                line["params"] = p.into();
            }
            if let Some(c) = t.cpu_per_run {
                line["cpu_ms_per_run"] = round2(c).into();
            }
            if let Some(l) = load {
                line["load1"] = l.into();
            }
            println!("{line}");
        } else {
            println!(
                "{:<22} {:>10.1} {:>10.1} {:>5} {:>9.1} {:>11.0} {:>7.2} {:>11} {:>6}",
                case.name,
                t.median,
                t.min,
                t.runs,
                gflop_per_s,
                case.pytorch_ms,
                ratio,
                t.cpu_per_run.map_or("-".into(), |c| format!("{c:.0}")),
                load.map_or("-".into(), |l| format!("{l:.2}"))
            );
        }
    }
}
