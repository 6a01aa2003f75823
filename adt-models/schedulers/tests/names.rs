//! Sampler names: round trips, a checkpoint's own sampler, SD1.5's PNDM config read as any sampler.

use adt_schedulers::SchedulerConfig;
use adt_schedulers::names::*;

#[test]
fn every_name_round_trips() {
    for n in SAMPLER_NAMES {
        let parsed: SamplerName = n.parse().unwrap();
        assert_eq!(parsed.to_string(), n);
    }
    assert!(
        "plms"
            .parse::<SamplerName>()
            .unwrap_err()
            .contains("dpmpp-2m")
    );
}

#[test]
fn a_checkpoint_names_its_own_sampler() {
    let of = |json: &str| SamplerName::of_checkpoint(json, "test").unwrap();
    assert_eq!(of(r#"{"_class_name": "PNDMScheduler"}"#), None);
    assert_eq!(
        of(r#"{"_class_name": "EulerDiscreteScheduler", "timestep_spacing": "leading"}"#),
        Some("euler".parse().unwrap())
    );
    assert_eq!(
        of(r#"{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}"#),
        Some("euler-karras".parse().unwrap())
    );
    assert_eq!(
        of(r#"{"_class_name": "DPMSolverMultistepScheduler"}"#),
        Some("dpmpp-2m".parse().unwrap())
    );
    assert_eq!(
        of(r#"{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 1}"#),
        None
    );
    assert_eq!(
        of(r#"{"_class_name": "DDIMScheduler"}"#),
        Some(SamplerName::DDIM)
    );
    assert!(SamplerName::of_checkpoint("[]", "test").is_err());
}

#[test]
fn reads_an_sd15_pndm_config_as_any_sampler() {
    let pndm = r#"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false,
        "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "clip_sample": false}"#;
    for n in ["ddim", "euler-karras", "dpmpp-2m"] {
        let name: SamplerName = n.parse().unwrap();
        let cfg = name.parse_config(pndm, "sd15").unwrap();
        assert_eq!(cfg.kind(), name.kind);
    }
    let SchedulerConfig::EulerDiscrete(e) = "euler-karras"
        .parse::<SamplerName>()
        .unwrap()
        .parse_config(pndm, "sd15")
        .unwrap()
    else {
        panic!("not Euler")
    };
    assert!(e.use_karras_sigmas);
}
