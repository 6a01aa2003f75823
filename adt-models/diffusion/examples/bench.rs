//! Benchmarks shared with the PyTorch reference (`/work/shared/bench-cases.md`):
//! `unet_small_fwd`, `unet_small_fwd_bwd`, `vae_small_decode`, `vae_small_decode_bwd`.
//!
//! Random weights and inputs, f32, burn's flex CPU backend. Each case warms up, then
//! repeats for at least `--seconds` (and at least 5 runs) and reports the median.
//!
//! ```text
//! cargo run --release -p adt-diffusion --example bench -- --json
//! cargo run --release -p adt-diffusion --example bench -- --case unet_small_fwd
//! ```

use std::time::{Duration, Instant};

use adt_diffusion::config_util::PerBlock;
use adt_diffusion::{
    AutoencoderKL, AutoencoderKLConfig, UNet2DConditionConfig, UNet2DConditionModel,
};
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;

const CASES: [&str; 4] = [
    "unet_small_fwd",
    "unet_small_fwd_bwd",
    "vae_small_decode",
    "vae_small_decode_bwd",
];

#[derive(Parser)]
struct Args {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Run only this case.
    #[arg(long)]
    case: Option<String>,
    /// Minimum seconds of timed repeats per case.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up runs per case.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The table of `unet_small_*`: SD1.5's layout with widths (32, 64, 128, 128).
fn unet_config() -> UNet2DConditionConfig {
    UNet2DConditionConfig {
        sample_size: Some(adt_diffusion::config_util::SampleSize::Square(32)),
        in_channels: 4,
        out_channels: 4,
        down_block_types: strings(&[
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ]),
        mid_block_type: Some("UNetMidBlock2DCrossAttn".into()),
        up_block_types: strings(&[
            "UpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
        ]),
        block_out_channels: vec![32, 64, 128, 128],
        layers_per_block: PerBlock::One(2),
        transformer_layers_per_block: PerBlock::One(1),
        attention_head_dim: PerBlock::One(8),
        cross_attention_dim: PerBlock::One(256),
        norm_num_groups: Some(32),
        norm_eps: 1e-5,
        use_linear_projection: false,
        flip_sin_to_cos: true,
        freq_shift: 0.0,
        act_fn: "silu".into(),
        downsample_padding: 1,
        ..Default::default()
    }
}

/// The table of `vae_small_*`: SD1.5's VAE layout with widths (32, 64, 128, 128).
fn vae_config() -> AutoencoderKLConfig {
    AutoencoderKLConfig {
        in_channels: 3,
        out_channels: 3,
        latent_channels: 4,
        down_block_types: strings(&["DownEncoderBlock2D"; 4]),
        up_block_types: strings(&["UpDecoderBlock2D"; 4]),
        block_out_channels: vec![32, 64, 128, 128],
        layers_per_block: 2,
        norm_num_groups: 32,
        act_fn: "silu".into(),
        use_quant_conv: true,
        use_post_quant_conv: true,
        mid_block_add_attention: true,
        sample_size: Some(adt_diffusion::config_util::SampleSize::Square(256)),
        scaling_factor: 0.18215,
        ..Default::default()
    }
}

fn randn<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Build the closure that runs one step of `case` (setup untimed).
fn prepare(case: &str) -> (Box<dyn FnMut()>, usize) {
    let plain = Device::flex();
    match case {
        "unet_small_fwd" => {
            let unet = UNet2DConditionModel::new(&unet_config(), &plain).expect("config");
            let params = unet.num_params();
            let sample = randn([2, 4, 32, 32], &plain);
            let t = Tensor::<1>::from_floats([999.0, 499.0], &plain);
            let ehs = randn([2, 77, 256], &plain);
            let step = move || {
                let out = unet.forward(sample.clone(), t.clone(), ehs.clone(), None);
                std::hint::black_box(out.to_data());
            };
            (Box::new(step), params)
        }
        "unet_small_fwd_bwd" => {
            let ad = plain.autodiff();
            let unet = UNet2DConditionModel::new(&unet_config(), &ad).expect("config");
            let params = unet.num_params();
            let sample = randn([2, 4, 32, 32], &ad);
            let t = Tensor::<1>::from_floats([999.0, 499.0], &ad);
            let ehs = randn([2, 77, 256], &ad);
            let target = randn([2, 4, 32, 32], &ad);
            let step = move || {
                let out = unet.forward(sample.clone(), t.clone(), ehs.clone(), None);
                let loss = (out - target.clone()).powf_scalar(2.0).mean();
                let grads = loss.backward();
                let g = unet.conv_in.weight.grad(&grads).expect("gradient");
                std::hint::black_box(g.to_data());
            };
            (Box::new(step), params)
        }
        "vae_small_decode" => {
            let vae = AutoencoderKL::new(&vae_config(), &plain).expect("config");
            let params = decode_params(&vae);
            let z = randn([1, 4, 32, 32], &plain);
            let step = move || {
                let out = vae.decode(z.clone());
                std::hint::black_box(out.to_data());
            };
            (Box::new(step), params)
        }
        "vae_small_decode_bwd" => {
            let ad = plain.autodiff();
            let vae = AutoencoderKL::new(&vae_config(), &ad)
                .expect("config")
                .no_grad();
            let params = decode_params(&vae);
            let z = randn([1, 4, 32, 32], &ad).require_grad();
            let step = move || {
                let grads = vae.decode(z.clone()).mean().backward();
                let g = z.grad(&grads).expect("gradient wrt z");
                std::hint::black_box(g.to_data());
            };
            (Box::new(step), params)
        }
        other => panic!("unknown case {other:?}; known: {CASES:?}"),
    }
}

fn decode_params(vae: &AutoencoderKL) -> usize {
    vae.decoder.num_params()
        + vae
            .post_quant_conv
            .as_ref()
            .map(|c| c.num_params())
            .unwrap_or(0)
}

fn main() {
    let args = Args::parse();
    let cases: Vec<&str> = match &args.case {
        Some(c) => vec![
            CASES
                .iter()
                .copied()
                .find(|k| k == c)
                .unwrap_or_else(|| panic!("unknown case {c:?}; known: {CASES:?}")),
        ],
        None => CASES.to_vec(),
    };
    for case in cases {
        let (mut step, params) = prepare(case);
        for _ in 0..args.warmup {
            step();
        }
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 5 || start.elapsed() < Duration::from_secs_f64(args.seconds) {
            let t0 = Instant::now();
            step();
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        if args.json {
            println!(
                "{{\"case\":\"{case}\",\"median_ms\":{median:.2},\"min_ms\":{:.2},\"max_ms\":{:.2},\"runs\":{},\"params\":{params},\"backend\":\"flex\"}}",
                times[0],
                times[times.len() - 1],
                times.len()
            );
        } else {
            println!(
                "{case:<22} median {median:8.1} ms  (min {:.1}, max {:.1}, {} runs, {params} params)",
                times[0],
                times[times.len() - 1],
                times.len()
            );
        }
    }
}
