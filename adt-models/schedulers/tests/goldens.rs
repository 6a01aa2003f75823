//! Parity with diffusers 0.37.1: schedules, full sampling loops, img2img and training
//! helpers against the fixtures of scripts/fixtures/schedulers.py.

use crate::common;

use adt_schedulers::{NoiseSchedule, Scheduler, SchedulerConfig, StepState};
use burn::tensor::{Device, Tensor};
use burn::tensor::{Int, TensorData};
use common::{Tensors, f64s, fixtures, goldens, host, host1, max_abs, max_abs_diff};

/// Schedule floats (sigmas, ᾱ, init_noise_sigma): max |Δ| ≤ 1e-5·max(1, |value|).
/// Relative above 1 because sigmas reach 4096 (zero-SNR) where one float32 ulp is 5e-4.
const SCHEDULE_TOL: f64 = 1e-5;
/// Samples after every step of a full loop (our own trajectory fed forward, f32):
/// max |Δ| ≤ 1e-4·max(1, max |golden|) — Euler samples start at σ_max·N(0,1), up to
/// ~4096·4 for zero-SNR, where float32 resolution alone is ~1e-3.
const SAMPLE_TOL: f64 = 1e-4;
/// Fractional timesteps (Euler with Karras sigmas): max |Δ| in train-timestep units.
/// diffusers maps sigmas to timesteps through `np.log` of a float32 array, and numpy's
/// SIMD float32 log is not correctly rounded (1 ulp off on ~20% of SD1.5's 1000 train
/// sigmas), which moves the interpolated float32 timestep by a few ulps (measured
/// 1.5e-5 at t≈207). Integer-valued timesteps must match exactly.
const FLOAT_TIMESTEP_TOL: f64 = 1e-4;
/// Training helpers (single op on f32 inputs).
const TRAIN_TOL: f64 = 1e-6;

fn rel_close(got: &[f64], want: &[f64], tol: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "length: got {got:?}, want {want:?}");
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            if g == w {
                0.0
            } else {
                (g - w).abs() / w.abs().max(1.0)
            }
        })
        .fold(0.0, |m: f64, e| {
            assert!(e <= tol, "got {got:?}\nwant {want:?}");
            m.max(e)
        })
}

fn load(case: &str) -> SchedulerConfig {
    SchedulerConfig::from_file(fixtures().join(case).join("scheduler_config.json"))
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

fn build(case: &serde_json::Value) -> Scheduler {
    let name = case["name"].as_str().unwrap();
    let n = case["num_inference_steps"].as_u64().unwrap() as usize;
    let s = Scheduler::new(&load(name), n).unwrap_or_else(|e| panic!("{name}: {e}"));
    let eta = case["eta"].as_f64().unwrap();
    if eta > 0.0 {
        s.with_eta(eta).unwrap()
    } else {
        s
    }
}

/// Runs steps `start..len` from `x`, comparing every scaled input and sample.
#[allow(clippy::too_many_arguments)]
fn run_loop(
    name: &str,
    s: &Scheduler,
    t: &Tensors,
    dev: &Device,
    start: usize,
    mut x: Tensor<4>,
    prefix: &str,
    worst: &mut f64,
) {
    let mut state = StepState::new();
    for (k, i) in (start..s.len()).enumerate() {
        let scaled = s.scale_model_input(x.clone(), i).unwrap();
        let want = t.f32(&format!("{prefix}scaled_{k}")).0;
        let err = max_abs_diff(&host(&scaled), &want) / max_abs(&want).max(1.0);
        assert!(
            err <= SAMPLE_TOL,
            "{name} {prefix}scaled_{k}: rel err {err:e}"
        );
        let out = t.t4(&format!("model_output_{i}"), dev);
        let noise = t.t4(&format!("noise_{i}"), dev);
        x = s.step(&mut state, i, out, x, Some(noise)).unwrap();
        let want = t.f32(&format!("{prefix}sample_{}", k + 1)).0;
        let err = max_abs_diff(&host(&x), &want) / max_abs(&want).max(1.0);
        assert!(
            err <= SAMPLE_TOL,
            "{name} {prefix}sample_{}: rel err {err:e}",
            k + 1
        );
        *worst = worst.max(err);
    }
}

#[test]
fn schedules_match_diffusers() {
    let g = goldens();
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = build(case);
        assert_eq!(
            s.kind().class_name(),
            case["class"].as_str().unwrap(),
            "{name}"
        );
        // Timesteps: integer-valued ones exact, fractional ones within FLOAT_TIMESTEP_TOL.
        let want = f64s(&case["timesteps"]);
        assert_eq!(s.timesteps().len(), want.len(), "{name} timesteps");
        let mut e_t = 0.0f64;
        for (g, w) in s.timesteps().iter().zip(&want) {
            if w.fract() == 0.0 && g.fract() == 0.0 {
                assert_eq!(g, w, "{name} timesteps {:?} vs {want:?}", s.timesteps());
            }
            e_t = e_t.max((g - w).abs());
        }
        assert!(
            e_t <= FLOAT_TIMESTEP_TOL,
            "{name} timesteps {:?} vs {want:?}",
            s.timesteps()
        );
        let e_init = rel_close(
            &[s.init_noise_sigma()],
            &[case["init_noise_sigma"].as_f64().unwrap()],
            SCHEDULE_TOL,
        );
        let e_sig = match (s.sigmas(), case.get("sigmas")) {
            (Some(got), Some(want)) => rel_close(got, &f64s(want), SCHEDULE_TOL),
            (None, None) => 0.0,
            (got, want) => panic!("{name}: sigmas presence differs: {got:?} vs {want:?}"),
        };
        // img2img start indices for several strengths.
        for e in case["img2img"].as_array().unwrap() {
            let strength = e["strength"].as_f64().unwrap();
            let start = s.img2img_start(strength).unwrap();
            assert_eq!(
                start as u64,
                e["t_start"].as_u64().unwrap(),
                "{name} strength {strength}"
            );
            assert_eq!(
                s.timesteps().len() - start,
                e["timesteps"].as_array().unwrap().len(),
                "{name} strength {strength}"
            );
        }
        println!(
            "{name}: timesteps max |Δ| {e_t:e}, sigmas rel err {e_sig:e}, init_noise_sigma rel err {e_init:e}"
        );
    }
}

#[test]
fn alphas_cumprod_match_diffusers() {
    let g = goldens();
    let mut worst = 0.0f64;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let t = Tensors::open(name);
        if !t.has("alphas_cumprod") {
            continue;
        }
        let s = build(case);
        let sched = match &s {
            Scheduler::Ddpm(x) => &x.schedule,
            Scheduler::Ddim(x) => &x.schedule,
            Scheduler::EulerDiscrete(x) => &x.schedule,
            Scheduler::EulerAncestralDiscrete(x) => &x.schedule,
            Scheduler::DpmSolverMultistep(x) => &x.schedule,
            Scheduler::FlowMatchEulerDiscrete(_) => unreachable!(),
        };
        let e_b = max_abs_diff(&sched.betas, &t.f32("betas").0);
        let e_a = max_abs_diff(&sched.alphas_cumprod, &t.f32("alphas_cumprod").0);
        assert!(
            e_b <= SCHEDULE_TOL && e_a <= SCHEDULE_TOL,
            "{name}: betas {e_b:e}, ᾱ {e_a:e}"
        );
        println!("{name}: betas max-abs {e_b:e}, alphas_cumprod max-abs {e_a:e}");
        worst = worst.max(e_a).max(e_b);
    }
    println!("betas / alphas_cumprod worst max-abs: {worst:e}");
}

#[test]
fn sampling_loops_match_diffusers() {
    let dev = Device::flex();
    let g = goldens();
    let mut worst = 0.0f64;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = build(case);
        let t = Tensors::open(name);
        let mut case_worst = 0.0;
        run_loop(
            name,
            &s,
            &t,
            &dev,
            0,
            t.t4("sample_0", &dev),
            "",
            &mut case_worst,
        );
        println!("{name}: {} steps, worst rel err {case_worst:e}", s.len());
        worst = worst.max(case_worst);
    }
    println!("all loops: worst rel err {worst:e}");
}

#[test]
fn img2img_loops_match_diffusers() {
    let dev = Device::flex();
    let g = goldens();
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = build(case);
        let t = Tensors::open(name);
        let i2i = &case["i2i"];
        let start = s.img2img_start(i2i["strength"].as_f64().unwrap()).unwrap();
        assert_eq!(start as u64, i2i["t_start"].as_u64().unwrap(), "{name}");
        let noisy = s
            .add_noise_at(t.t4("i2i_init", &dev), t.t4("i2i_noise", &dev), start)
            .unwrap();
        let want = t.f32("i2i_sample_0").0;
        let err = max_abs_diff(&host(&noisy), &want) / max_abs(&want).max(1.0);
        assert!(err <= SAMPLE_TOL, "{name} img2img add_noise: {err:e}");
        let mut worst = err;
        run_loop(name, &s, &t, &dev, start, noisy, "i2i_", &mut worst);
        println!("{name}: img2img from step {start}, worst rel err {worst:e}");
    }
}

#[test]
fn training_helpers_match_diffusers() {
    let dev = Device::flex();
    let g = goldens();
    for case in g["training"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let t = Tensors::open(name);
        let sched = NoiseSchedule::for_training(&load(name)).unwrap();
        let e_a = max_abs_diff(&sched.alphas_cumprod, &t.f32("alphas_cumprod").0);
        assert!(e_a <= SCHEDULE_TOL, "{name}: ᾱ {e_a:e}");
        let ts = t.i64("timesteps");
        let b = ts.len();
        let timesteps = || Tensor::<1, Int>::from_data(TensorData::new(ts.clone(), [b]), &dev);
        let x0 = t.t4("x0", &dev);
        let noise = t.t4("noise", &dev);
        let noisy = sched
            .add_noise(x0.clone(), noise.clone(), timesteps())
            .unwrap();
        let e_n = max_abs_diff(&host(&noisy), &t.f32("noisy").0);
        let v = sched.get_velocity(x0, noise, timesteps()).unwrap();
        let e_v = max_abs_diff(&host(&v), &t.f32("velocity").0);
        let snr = host1(&sched.snr(timesteps(), &dev).unwrap());
        let want_snr: Vec<f64> = t.f32("snr").0.iter().map(|&x| x as f64).collect();
        let got_snr: Vec<f64> = snr.iter().map(|&x| x as f64).collect();
        let e_s = rel_close(&got_snr, &want_snr, TRAIN_TOL);
        assert!(
            e_n <= TRAIN_TOL && e_v <= TRAIN_TOL,
            "{name}: add_noise {e_n:e}, velocity {e_v:e}"
        );
        println!("{name}: ᾱ {e_a:e}, add_noise {e_n:e}, velocity {e_v:e}, snr rel {e_s:e}");
    }
}
