//! The flow-matching training schedule against diffusers' `FlowMatchEulerDiscreteScheduler`
//! as the SD3 training scripts index it (`timesteps[(u · N).long()]`, `sigmas[...]`), and
//! the choice of schedule by scheduler class.

use adt_family::adapters::{FlowSchedule, training_schedule};
use adt_plugin::traits::NoiseSchedule;
use adt_schedulers::config::FlowMatchConfig;
use adt_schedulers::{SamplerName, SchedulerConfig};

#[test]
fn flow_levels_match_the_shifted_training_sigmas() {
    let s = FlowSchedule::new(&FlowMatchConfig {
        num_train_timesteps: 1000,
        shift: 3.0,
    });
    // u = 0.5 → index 500 → t = 1000 − 500 = 500 → σ = 3·0.5 / (1 + 2·0.5) = 0.75.
    let l = s.training_level(0.5);
    assert_eq!((l.sigma, l.alpha, l.timestep), (0.75, 0.25, 750.0));
    // u → 0: index 0, σ = shift(1) = 1 (pure noise), timestep 1000.
    let l = s.training_level(0.0);
    assert_eq!((l.sigma, l.timestep), (1.0, 1000.0));
    // u → 1: the last index, t = 1 → σ = 3·0.001 / (1 + 2·0.001) (float32).
    let l = s.training_level(0.999_999);
    let want = 3.0f32 * 0.001 / (1.0 + 2.0 * 0.001);
    assert_eq!(l.sigma, want);
    assert_eq!(l.alpha, 1.0 - want);
}

#[test]
fn the_schedule_follows_the_scheduler_class() {
    let flow = SamplerName::FLOW_EULER
        .parse_config(
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0}"#,
            "flow",
        )
        .unwrap();
    assert!(matches!(flow, SchedulerConfig::FlowMatchEulerDiscrete(_)));
    let l = training_schedule(&flow).unwrap().training_level(0.5);
    assert_eq!(l.sigma, 0.75);
    let ddim = SamplerName::DDIM
        .parse_config(r#"{"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"#, "ddim")
        .unwrap();
    let l = training_schedule(&ddim).unwrap().training_level(0.5);
    assert_eq!(l.timestep, 500.0);
    assert!((l.alpha * l.alpha + l.sigma * l.sigma - 1.0).abs() < 1e-5);
}
