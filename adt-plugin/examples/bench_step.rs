//! Cost of one ADT step vs one plain `L_diff` step, and peak memory, for m ∈ {4, 8, 16, 32}
//! sampling steps, K = 1, backward-flow constraint on and off.
//!
//! `cargo run --release -p adt-plugin --example bench_step [-- --steps N] [-- --write FILE.md]`
//!
//! Method. Every configuration runs in a fresh child process (this binary with `--child`), so
//! each peak is its own: the child builds the toy model (a wider toy denoiser at 32×32, see
//! `sizes()`), records its resident set (`VmRSS`) as the baseline, runs one warm-up step and N
//! timed steps, and reports the median step time and the process peak resident set (`VmHWM`
//! from /proc/self/status). "Peak above baseline" = VmHWM − baseline, i.e. what the steps added.
//! All steps use `start_policy = full` so every configuration executes exactly m sampler steps.
//!
//! The cost model: an ADT step makes (m + 1) generator forwards (m sampler steps + L_diff), 4
//! backbone+heads forwards (real and fake, for the D and the G update), and K + 2 backward
//! passes: K selected generator steps + L_diff (generator backward each) and the
//! discriminator (one heads backward for D, one heads+backbone backward for G, counted as 2·B_d).
//! The PLAIN child also times the components F_g, B_g, F_d, B_d, and the predicted ADT step
//! is (m+1)·F_g + 4·F_d + (K+1)·B_g + 2·B_d.

use std::process::Command;
use std::time::Instant;

use adt_plugin::AdtConfig;
use adt_plugin::augment::AugmentDraws;
use adt_plugin::config::StartPolicy;
use adt_plugin::discriminator::head_inputs;
use adt_plugin::model::AdtBatch;
use adt_plugin::rng::EngineRng;
use adt_plugin::step::{Optimizers, adt_step};
use adt_plugin::toy::{ToyModel, ToyParts, ToySizes, toy_config, toy_loader};
use adt_plugin::traits::Denoiser;
use burn::prelude::*;

fn sizes() -> ToySizes {
    ToySizes {
        image: 32,
        latent_channels: 4,
        width: 64,
        cond_dim: 16,
        backbone_dim: 32,
    }
}

const BATCH: usize = 4;

fn status_kb(key: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn config(m: usize, constraint: bool, adversarial: bool) -> AdtConfig {
    AdtConfig {
        m,
        k: 1,
        constraint,
        adversarial,
        start_policy: StartPolicy::Full,
        batch_size: BATCH,
        bn_group: 2,
        head_kernel: 9,
        total_steps: 1000,
        ..toy_config()
    }
}

fn setup(cfg: AdtConfig, d: &Device) -> (ToyModel, AdtBatch) {
    let model = ToyParts::new(sizes(), 1, d).model(cfg, d).unwrap();
    let batch = toy_loader(16, sizes().image, BATCH, 0, d)
        .iter()
        .next()
        .unwrap()
        .unwrap();
    (model, batch)
}

fn time_steps(mut model: ToyModel, batch: &AdtBatch, steps: usize) -> (f64, f64, f64) {
    let cfg = model.ctx.config.clone();
    let mut optims = Optimizers::new(&cfg);
    let mut rng = EngineRng::new(1);
    let baseline = status_kb("VmRSS:");
    let mut times = Vec::new();
    for i in 0..=steps {
        let t = Instant::now();
        let (m, r) = adt_step(
            model,
            &mut optims,
            None,
            std::slice::from_ref(batch),
            &mut rng,
            i + 1,
        )
        .unwrap();
        model = m;
        assert!(r.nonfinite.is_empty());
        if i > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    (median(times), status_kb("VmHWM:"), baseline)
}

fn time_it(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn components(model: &ToyModel, batch: &AdtBatch) -> [f64; 4] {
    let prep = model.prepare(batch).unwrap();
    let d = prep.x0.device();
    let t = Tensor::<1>::full([BATCH], 500.0, &d);
    let g = &model.generator;
    let f_g = time_it(5, || {
        let _ = g
            .forward(prep.x0.clone(), t.clone(), &prep.cond.cond)
            .sum()
            .into_scalar::<f32>();
    });
    let fb_g = time_it(5, || {
        let _ = g
            .forward(prep.x0.clone(), t.clone(), &prep.cond.cond)
            .sum()
            .backward();
    });
    let mut rng = EngineRng::new(3);
    let draws = AugmentDraws::draw(
        &model.ctx.augment,
        BATCH,
        sizes().image,
        sizes().image,
        &mut rng,
    );
    let score = |img: Tensor<4>| {
        let f = model.ctx.features(draws.apply(img));
        let emb = model.discriminator.embed(f.cls.clone().detach(), None);
        model.discriminator.score(&head_inputs(&f), emb).sum()
    };
    let f_d = time_it(5, || {
        let _ = score(prep.real.clone()).into_scalar::<f32>();
    });
    let fb_d = time_it(5, || {
        let _ = score(prep.real.clone().require_grad()).backward();
    });
    [f_g, (fb_g - f_g).max(0.0), f_d, (fb_d - f_d).max(0.0)]
}

fn child(args: &[String]) {
    let kind = args[0].as_str();
    let m: usize = args[1].parse().unwrap();
    let constraint = args[2] == "1";
    let steps: usize = args[3].parse().unwrap();
    let d = Device::flex().autodiff();
    let (model, batch) = setup(config(m, constraint, kind == "adt"), &d);
    let comps = if kind == "plain" {
        Some(components(&model, &batch))
    } else {
        None
    };
    let (t, hwm, base) = time_steps(model, &batch, steps);
    let c = comps
        .map(|c| {
            format!(
                ",\"f_g\":{},\"b_g\":{},\"f_d\":{},\"b_d\":{}",
                c[0], c[1], c[2], c[3]
            )
        })
        .unwrap_or_default();
    println!(
        "{{\"kind\":\"{kind}\",\"m\":{m},\"constraint\":{constraint},\"step_s\":{t},\"vmhwm_kb\":{hwm},\"baseline_kb\":{base}{c}}}"
    );
}

fn run_child(kind: &str, m: usize, constraint: bool, steps: usize) -> serde_json::Value {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            kind,
            &m.to_string(),
            if constraint { "1" } else { "0" },
            &steps.to_string(),
        ])
        .output()
        .expect("spawn child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("child printed no JSON");
    serde_json::from_str(line).unwrap()
}

// No `adt_plugin::host` settings here: the peaks below are read from the resident set with
// glibc's default handling of freed memory, as in the figures of docs/benchmarks.md.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let steps = args
        .iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(3usize);
    let write = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
        .cloned();

    let plain = run_child("plain", 4, true, steps);
    let (f_g, b_g, f_d, b_d) = (
        plain["f_g"].as_f64().unwrap(),
        plain["b_g"].as_f64().unwrap(),
        plain["f_d"].as_f64().unwrap(),
        plain["b_d"].as_f64().unwrap(),
    );
    let mb = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap() / 1024.0;
    let mut md = String::new();
    md.push_str(&format!(
        "Toy model: denoiser width {}, {}×{} images, {} latent channels, batch {BATCH}, K = 1, start_policy = full; {steps} timed steps after 1 warm-up, median.\n\n",
        sizes().width, sizes().image, sizes().image, sizes().latent_channels
    ));
    md.push_str(&format!(
        "Components (plain child): generator forward F_g = {:.1} ms, generator backward B_g = {:.1} ms, backbone+heads forward F_d = {:.1} ms, backward B_d = {:.1} ms.\n\n",
        f_g * 1e3, b_g * 1e3, f_d * 1e3, b_d * 1e3
    ));
    md.push_str(&format!(
        "Plain L_diff step: {:.1} ms, peak RSS {:.1} MiB ({:.1} MiB above baseline).\n\n",
        plain["step_s"].as_f64().unwrap() * 1e3,
        mb(&plain, "vmhwm_kb"),
        mb(&plain, "vmhwm_kb") - mb(&plain, "baseline_kb")
    ));
    md.push_str("| m | constraint | ADT step ms | predicted ms | ratio | ADT / plain | peak RSS MiB | above baseline MiB |\n|---:|:---:|---:|---:|---:|---:|---:|---:|\n");
    let plain_s = plain["step_s"].as_f64().unwrap();
    for constraint in [true, false] {
        for m in [4usize, 8, 16, 32] {
            let r = run_child("adt", m, constraint, steps);
            let s = r["step_s"].as_f64().unwrap();
            // With the constraint off every step is backpropagated: m generator backwards.
            let kb = if constraint {
                1.0 + 1.0
            } else {
                m as f64 + 1.0
            };
            let pred = (m as f64 + 1.0) * f_g + 4.0 * f_d + kb * b_g + 2.0 * b_d;
            let line = format!(
                "| {m} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} | {:.1} |\n",
                if constraint { "on" } else { "off" },
                s * 1e3,
                pred * 1e3,
                s / pred,
                s / plain_s,
                mb(&r, "vmhwm_kb"),
                mb(&r, "vmhwm_kb") - mb(&r, "baseline_kb")
            );
            print!("{line}");
            md.push_str(&line);
        }
    }
    println!("\n{md}");
    if let Some(p) = write {
        std::fs::write(&p, md).expect("write table");
        eprintln!("wrote {p}");
    }
}
