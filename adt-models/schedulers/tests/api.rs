//! Behaviour the engine relies on: autodiff through `step`, coefficients that agree
//! with `step`, explicit multistep state, and clear errors for bad input.

use crate::common;

use adt_schedulers::{
    ConfigError, Scheduler, SchedulerConfig, SchedulerError, SchedulerKind, StepState,
};
use burn::tensor::Distribution;
use burn::tensor::{Device, Tensor};
use common::{fixtures, host, max_abs_diff};

/// Gradients and coefficient-vs-step agreement are single f32 multiply-adds.
const F32_TOL: f64 = 1e-5;

fn sched(case: &str, n: usize) -> Scheduler {
    Scheduler::from_file(fixtures().join(case).join("scheduler_config.json"), n).unwrap()
}

fn randn(dev: &Device, seed_shift: f64) -> Tensor<4> {
    Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(seed_shift, 1.0), dev)
}

/// d(sum prev)/d(model_output) is the constant b_i, d/d(sample) is a_i.
#[test]
fn autodiff_through_step_gives_the_coefficients() {
    let dev = Device::flex().autodiff();
    for (case, i) in [
        ("ddim_sd15_leading", 3),
        ("euler_karras", 2),
        ("euler_trailing_vpred_karras", 1),
        ("ddim_trailing_vpred_zsnr", 2),
        ("flow_euler_sd3", 4),
    ] {
        let s = sched(case, 8);
        let state = StepState::new();
        let c = s.step_coefficients(&state, i).unwrap();
        assert!(c.model_output != 0.0, "{case}");
        let out = randn(&dev, 0.0).require_grad();
        let x = randn(&dev, 0.5).require_grad();
        let prev = s
            .step(&mut StepState::new(), i, out.clone(), x.clone(), None)
            .unwrap();
        let grads = prev.sum().backward();
        let g_out = host(&out.grad(&grads).expect("gradient reaches model_output"));
        let g_x = host(&x.grad(&grads).expect("gradient reaches sample"));
        let e_out = g_out
            .iter()
            .map(|g| (*g as f64 - c.model_output).abs())
            .fold(0.0, f64::max);
        let e_x = g_x
            .iter()
            .map(|g| (*g as f64 - c.sample).abs())
            .fold(0.0, f64::max);
        assert!(
            e_out <= F32_TOL * c.model_output.abs().max(1.0)
                && e_x <= F32_TOL * c.sample.abs().max(1.0),
            "{case} step {i}: grads vs coefficients {c:?}: {e_out:e} {e_x:e}"
        );
    }
}

/// DPM-Solver++ 2M: the second step reads the first step's data prediction from the
/// state; gradients reach the first step's model output through that history.
#[test]
fn dpm_history_is_explicit_and_differentiable() {
    let dev = Device::flex().autodiff();
    let s = sched("dpmpp2m_sd15", 10);
    let mut state = StepState::new();
    let c0 = s.step_coefficients(&state, 0).unwrap();
    assert_eq!(c0.history, 0.0, "first step is first order");
    let out0 = randn(&dev, 0.0).require_grad();
    let out1 = randn(&dev, 0.1).require_grad();
    let x0 = randn(&dev, 0.2);
    let x1 = s.step(&mut state, 0, out0.clone(), x0, None).unwrap();
    assert_eq!(state.history().map(|(i, _)| i), Some(0));
    let c1 = s.step_coefficients(&state, 1).unwrap();
    assert!(c1.history != 0.0, "second step uses the history");
    // Coefficients reproduce the step: a·x + b·ε + h·m_prev.
    let (_, hist) = state.history().unwrap();
    let manual = c1.apply(x1.clone(), out1.clone(), Some(hist.clone()), None);
    let mut replay = state.clone();
    let x2 = s.step(&mut state, 1, out1.clone(), x1, None).unwrap();
    assert!(
        max_abs_diff(&host(&manual), &host(&x2)) <= F32_TOL,
        "coefficients reproduce the step"
    );
    let grads = x2.sum().backward();
    let g1 = host(&out1.grad(&grads).unwrap());
    assert!(
        g1.iter()
            .all(|g| (*g as f64 - c1.model_output).abs() <= F32_TOL)
    );
    let g0 = host(&out0.grad(&grads).unwrap());
    assert!(
        g0.iter().all(|g| g.abs() > 0.0),
        "gradient reaches step 0 through x1 and the history"
    );
    // A state that skipped a step is refused instead of silently mixing histories.
    let err = s
        .step(&mut replay, 3, randn(&dev, 0.0), randn(&dev, 0.0), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SchedulerError::History {
                index: 3,
                held: 0,
                needed: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn state_record_round_trips_through_serde() {
    let dev = Device::flex();
    let s = sched("dpmpp2m_karras", 8);
    let mut state = StepState::new();
    let x = s
        .step(&mut state, 0, randn(&dev, 0.0), randn(&dev, 0.0), None)
        .unwrap();
    let json = serde_json::to_string(&state.to_record()).unwrap();
    let mut restored = StepState::from_record(serde_json::from_str(&json).unwrap(), &dev);
    let out = randn(&dev, 0.3);
    let a = s.step(&mut state, 1, out.clone(), x.clone(), None).unwrap();
    let b = s.step(&mut restored, 1, out, x, None).unwrap();
    assert_eq!(host(&a), host(&b));
    assert_eq!(restored.steps_taken(), 2);
}

#[test]
fn stochastic_steps_require_noise() {
    let dev = Device::flex();
    for case in ["ddpm_sd15", "euler_ancestral_sd15"] {
        let s = sched(case, 10);
        let err = s
            .step(
                &mut StepState::new(),
                0,
                randn(&dev, 0.0),
                randn(&dev, 0.0),
                None,
            )
            .unwrap_err();
        assert!(
            matches!(err, SchedulerError::MissingNoise { index: 0, .. }),
            "{case}: {err}"
        );
        assert!(s.step_coefficients(&StepState::new(), 0).unwrap().noise > 0.0);
    }
    let ddim = sched("ddim_sd15_leading", 10).with_eta(0.5).unwrap();
    assert!(ddim.step_coefficients(&StepState::new(), 0).unwrap().noise > 0.0);
    assert!(matches!(
        sched("euler_sd15", 10).with_eta(0.5),
        Err(SchedulerError::Option { option: "eta", .. })
    ));
}

#[test]
fn bad_step_arguments_are_reported() {
    let dev = Device::flex();
    let s = sched("euler_sd15", 10);
    let x = randn(&dev, 0.0);
    let wrong = Tensor::<4>::zeros([2, 4, 3, 4], &dev);
    let err = s
        .step(&mut StepState::new(), 0, wrong, x.clone(), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SchedulerError::Shape {
                what: "model_output",
                ..
            }
        ),
        "{err}"
    );
    let err = s
        .step(&mut StepState::new(), 10, x.clone(), x, None)
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::IndexOutOfRange { index: 10, len: 10 }),
        "{err}"
    );
    assert!(matches!(
        s.img2img_start(1.2),
        Err(SchedulerError::Strength { .. })
    ));
    let clip = sched("ddim_default_clip_sample", 5);
    assert!(matches!(
        clip.step_coefficients(&StepState::new(), 0),
        Err(SchedulerError::NonLinear {
            field: "clip_sample",
            ..
        })
    ));
    let cfg =
        SchedulerConfig::from_file(fixtures().join("ddim_sd15_leading/scheduler_config.json"))
            .unwrap();
    assert!(matches!(
        Scheduler::new(&cfg, 0),
        Err(SchedulerError::InferenceSteps { .. })
    ));
    assert!(matches!(
        Scheduler::new(&cfg, 1001),
        Err(SchedulerError::InferenceSteps { .. })
    ));
}

/// SD1.5's real scheduler_config.json (runwayml/stable-diffusion-v1-5) is a PNDM
/// config: unknown as a class, readable as any DDPM-family class.
const SD15_PNDM: &str = r#"{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}"#;

#[test]
fn config_class_selection_and_errors_name_the_field() {
    let err = SchedulerConfig::from_json(SD15_PNDM, "sd15").unwrap_err();
    assert!(
        matches!(&err, ConfigError::UnknownClass { class, .. } if class == "PNDMScheduler"),
        "{err}"
    );
    let ddim = SchedulerConfig::from_json_as(SD15_PNDM, "sd15", SchedulerKind::Ddim).unwrap();
    let from_fixture =
        SchedulerConfig::from_file(fixtures().join("ddim_sd15_leading/scheduler_config.json"))
            .unwrap();
    assert_eq!(
        ddim, from_fixture,
        "PNDM config read as DDIM = diffusers' DDIMScheduler.from_config"
    );

    let cases: [(&str, &str); 6] = [
        (
            r#"{"_class_name":"DDIMScheduler","thresholding":true}"#,
            "thresholding",
        ),
        (
            r#"{"_class_name":"DDIMScheduler","timestep_spacing":"sideways"}"#,
            "timestep_spacing",
        ),
        (
            r#"{"_class_name":"EulerDiscreteScheduler","use_exponential_sigmas":true}"#,
            "use_exponential_sigmas",
        ),
        (
            r#"{"_class_name":"DPMSolverMultistepScheduler","algorithm_type":"sde-dpmsolver++"}"#,
            "algorithm_type",
        ),
        (
            r#"{"_class_name":"DPMSolverMultistepScheduler","solver_order":3}"#,
            "solver_order",
        ),
        (
            r#"{"_class_name":"DDPMScheduler","beta_start":"small"}"#,
            "beta_start",
        ),
    ];
    for (text, field) in cases {
        let err = SchedulerConfig::from_json(text, "test").unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{field}`")),
            "{text}: {err}"
        );
    }
    // Python's JSON writes -Infinity for DPM-Solver's lambda_min_clipped.
    let dpm = SchedulerConfig::from_json(
        r#"{"_class_name":"DPMSolverMultistepScheduler","lambda_min_clipped":-Infinity,"note":"-Infinity"}"#,
        "test",
    )
    .unwrap();
    match dpm {
        SchedulerConfig::DpmSolverMultistep(c) => {
            assert_eq!(c.lambda_min_clipped, f64::NEG_INFINITY)
        }
        other => panic!("{other:?}"),
    }
    let missing = SchedulerConfig::from_file("/nonexistent/scheduler_config.json").unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/scheduler_config.json"),
        "{missing}"
    );
}
