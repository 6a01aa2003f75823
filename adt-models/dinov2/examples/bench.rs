//! DINOv2 cases of shared/bench-cases.md: ViT-S/14 (facebook/dinov2-small config,
//! random weights) at 224², batch 2, f32, on the CPU (`flex`).
//!
//! `cargo run --release -p adt-dinov2 --example bench -- [--json] [--case NAME] [--seconds S]`
//!
//! - `dinov2_s_fwd`: forward only, no autodiff.
//! - `dinov2_s_input_grad`: parameters frozen, `mean(last_hidden_state)` backward,
//!   gradient w.r.t. `pixel_values` only.
//!
//! With `--json`, one JSON object per case per line (`case`, `median_ms`, ...).

use std::time::{Duration, Instant};

use adt_dinov2::{Dinov2Config, Dinov2Model, Layout, PosInterpolation};
use burn::prelude::*;
use burn::tensor::Distribution;

const CASES: [&str; 2] = ["dinov2_s_fwd", "dinov2_s_input_grad"];

/// `facebook/dinov2-small/config.json`.
fn vit_s14() -> Dinov2Config {
    Dinov2Config {
        hidden_size: 384,
        num_hidden_layers: 12,
        num_attention_heads: 6,
        mlp_ratio: 4.0,
        patch_size: 14,
        image_size: 518,
        num_channels: 3,
        layer_norm_eps: 1e-6,
        qkv_bias: true,
        layer_scale: true,
        layerscale_value: 1.0,
        use_swiglu_ffn: false,
        num_register_tokens: 0,
        use_mask_token: true,
        interpolation: PosInterpolation {
            antialias: false,
            offset: 0.0,
        },
        layout: Layout::Transformers,
    }
}

fn time_case(seconds: f64, mut step: impl FnMut()) -> (f64, f64, usize) {
    for _ in 0..2 {
        step(); // warm-up
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 200) {
        let t = Instant::now();
        step();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], times.len())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: f64 = value("--seconds")
        .map(|s| s.parse().expect("--seconds S"))
        .unwrap_or(6.0);
    let selected: Vec<&str> = match value("--case") {
        Some(c) if CASES.contains(&c.as_str()) => {
            CASES.iter().copied().filter(|x| *x == c).collect()
        }
        Some(c) => {
            eprintln!("unknown case `{c}`; cases: {}", CASES.join(", "));
            std::process::exit(2);
        }
        None => CASES.to_vec(),
    };
    let config = vit_s14();
    for case in selected {
        let (median, min, runs) = match case {
            "dinov2_s_fwd" => {
                let dev = Device::flex();
                let model = Dinov2Model::new(&config, &dev);
                let x = Tensor::<4>::random([2, 3, 224, 224], Distribution::Normal(0.0, 1.0), &dev);
                time_case(seconds, || {
                    let y = model
                        .forward_features(x.clone(), &[])
                        .unwrap()
                        .last_hidden_state;
                    let _ = y.into_data();
                })
            }
            _ => {
                let dev = Device::flex().autodiff();
                let model = Dinov2Model::new(&config, &dev).no_grad();
                let x = Tensor::<4>::random([2, 3, 224, 224], Distribution::Normal(0.0, 1.0), &dev);
                time_case(seconds, || {
                    let px = x.clone().detach().require_grad();
                    let y = model
                        .forward_features(px.clone(), &[])
                        .unwrap()
                        .last_hidden_state;
                    let grads = y.mean().backward();
                    let _ = px.grad(&grads).expect("input gradient").into_data();
                })
            }
        };
        if json {
            println!(
                "{{\"case\":\"{case}\",\"median_ms\":{median:.2},\"min_ms\":{min:.2},\"runs\":{runs},\"backend\":\"flex\"}}"
            );
        } else {
            println!("{case:<22} median {median:8.2} ms   min {min:8.2} ms   ({runs} runs)");
        }
    }
}
