//! Bad config values fail at start with the field named; the config round-trips through TOML.

use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use adt_plugin::{AdtConfig, AdtError};
use burn::prelude::*;

fn field_of(r: Result<(), AdtError>) -> String {
    match r {
        Err(AdtError::Config { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn defaults_are_valid_and_round_trip() {
    let c = AdtConfig::default();
    c.validate().unwrap();
    assert_eq!(AdtConfig::from_toml_str(&c.to_toml()).unwrap(), c);
    // Documented defaults (adt-method.md).
    assert_eq!(
        (c.k, c.lambda_diff, c.g_optim.lr, c.d_optim.lr),
        (1, 1.0, 1e-5, 1e-4)
    );
    assert_eq!(
        (
            c.g_optim.beta1,
            c.g_optim.beta2,
            c.g_optim.weight_decay,
            c.g_optim.grad_clip
        ),
        (0.9, 0.999, 1e-2, 1.0)
    );
    assert_eq!((c.d_optim.beta1, c.d_optim.beta2), (0.0, 0.99));
    assert_eq!((c.r1_gamma, c.ema_decay), (1e-5, 0.999));
}

#[test]
fn invalid_values_name_their_field() {
    let base = toy_config();
    let cases: Vec<(AdtConfig, &str)> = vec![
        (
            AdtConfig {
                mode_scale: 1.8,
                ..base.clone()
            },
            "mode_scale",
        ),
        (
            AdtConfig {
                k: 5,
                m: 4,
                ..base.clone()
            },
            "k",
        ),
        (
            AdtConfig {
                lambda_adv: -0.1,
                ..base.clone()
            },
            "lambda_adv",
        ),
        (
            AdtConfig {
                lambda_diff: -1.0,
                ..base.clone()
            },
            "lambda_diff",
        ),
        (
            AdtConfig {
                batch_size: 1,
                bn_group: 2,
                ..base.clone()
            },
            "batch_size",
        ),
        (
            AdtConfig {
                batch_size: 6,
                bn_group: 4,
                ..base.clone()
            },
            "batch_size",
        ),
        (
            AdtConfig {
                augment: "color,zoom".into(),
                ..base.clone()
            },
            "augment",
        ),
        (
            AdtConfig {
                cfg_scale: 0.5,
                ..base.clone()
            },
            "cfg_scale",
        ),
        (
            AdtConfig {
                head_kernel: 4,
                ..base.clone()
            },
            "head_kernel",
        ),
        (
            AdtConfig {
                ema_decay: 1.0,
                ..base.clone()
            },
            "ema_decay",
        ),
        (
            AdtConfig {
                m: 0,
                ..base.clone()
            },
            "m",
        ),
        (
            AdtConfig {
                g_optim: adt_plugin::config::OptimConfig {
                    lr: -1.0,
                    ..base.g_optim.clone()
                },
                ..base.clone()
            },
            "g_optim.lr",
        ),
        (
            AdtConfig {
                skip_path: adt_plugin::config::SkipPath::Detached,
                ..base.clone()
            },
            "skip_path",
        ),
    ];
    for (cfg, want) in cases {
        assert_eq!(field_of(cfg.validate()), want);
    }
}

#[test]
fn unknown_names_and_keys_are_rejected_by_the_parser() {
    for (text, key) in [
        ("k_policy = \"sometimes\"", "k_policy"),
        ("lamda_adv = 1.0", "lamda_adv"),
        ("score = \"l2\"", "score"),
    ] {
        match AdtConfig::from_toml_str(text) {
            Err(AdtError::ConfigParse { message, .. }) => assert!(
                message.contains(key) || message.contains("sometimes") || message.contains("l2"),
                "{message}"
            ),
            other => panic!("{text}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn the_trainer_refuses_a_bad_config_before_training() {
    let d = Device::flex().autodiff();
    let cfg = AdtConfig {
        k: 9,
        ..toy_config()
    };
    match ToyParts::new(ToySizes::default(), 0, &d).trainer(cfg, 8, 16, &d) {
        Err(AdtError::Config { field, message }) => {
            assert_eq!(field, "k");
            assert!(message.contains("larger than"), "{message}");
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("accepted k > m"),
    }
}

#[test]
fn flow_only_options_are_refused_for_an_epsilon_model() {
    use adt_plugin::LossWeighting;
    let d = Device::flex().autodiff();
    for (cfg, want) in [
        (
            AdtConfig {
                loss_weighting: LossWeighting::Cosmap,
                ..toy_config()
            },
            "loss_weighting",
        ),
        (
            AdtConfig {
                precondition_outputs: Some(true),
                ..toy_config()
            },
            "precondition_outputs",
        ),
    ] {
        match ToyParts::new(ToySizes::default(), 0, &d).trainer(cfg, 8, 16, &d) {
            Err(AdtError::Config { field, message }) => {
                assert_eq!(field, want);
                assert!(message.contains("flow"), "{message}");
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("accepted {want} for an ε model"),
        }
    }
}
