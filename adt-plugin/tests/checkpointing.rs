//! `gradient_checkpointing = true` (burn's balanced recomputation) trains the same run: the
//! same losses, gradient norms and parameters as without it; a device that disagrees with
//! the config is refused by name.

use adt_plugin::AdtConfig;
use adt_plugin::toy::{ToyParts, ToySizes};
use burn::prelude::*;

use crate::common::{close, config, run_with};

#[test]
fn checkpointing_gives_the_same_run() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = run_with(config(), &tmp.path().join("plain"), None, false);
    let ck = AdtConfig {
        gradient_checkpointing: true,
        ..config()
    };
    let ckpt = run_with(ck, &tmp.path().join("ckpt"), None, false);
    // Such a run's modules carry burn's balanced strategy (the memory it saves is measured
    // in `bench_models --memory`, docs/benchmarks.md).
    let d = Device::flex().autodiff().gradient_checkpointing();
    let trainer = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(
            AdtConfig {
                gradient_checkpointing: true,
                ..config()
            },
            12,
            16,
            &d,
        )
        .unwrap();
    let strategy = trainer
        .model()
        .generator
        .conv_out
        .weight
        .val()
        .gradient_checkpointing_strategy();
    assert_eq!(
        strategy,
        Some(burn::tensor::GradientCheckpointingStrategy::Balanced)
    );
    assert_eq!(plain.history.len(), ckpt.history.len());
    for ((s, a), (_, b)) in plain.history.iter().zip(&ckpt.history) {
        for (name, x, y) in [
            ("l_diff", a.l_diff, b.l_diff),
            ("g_adv", a.g_adv, b.g_adv),
            ("d_loss", a.d_loss, b.d_loss),
            ("g_grad_norm", a.g_grad_norm, b.g_grad_norm),
            ("d_grad_norm", a.d_grad_norm, b.d_grad_norm),
        ] {
            assert!(close(x, y, 1e-5), "step {s} {name}: {x:?} vs {y:?}");
        }
    }
    let (a, b) = (
        plain.model.generator.conv_out.weight.val().into_data(),
        ckpt.model.generator.conv_out.weight.val().into_data(),
    );
    a.assert_approx_eq::<f32>(&b, burn::tensor::Tolerance::absolute(1e-5));
}

#[test]
fn a_device_that_disagrees_with_the_config_is_named() {
    let d = Device::flex().autodiff();
    let ck = AdtConfig {
        gradient_checkpointing: true,
        ..config()
    };
    let err = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(ck, 12, 16, &d)
        .err()
        .expect("refused");
    let e = err.to_string();
    assert!(
        e.contains("gradient_checkpointing") && e.contains(".gradient_checkpointing()"),
        "{e}"
    );
    let dc = d.gradient_checkpointing();
    let err = ToyParts::new(ToySizes::default(), 3, &dc)
        .trainer(config(), 12, 16, &dc)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("is false"), "{err}");
}
