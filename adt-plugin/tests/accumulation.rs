//! `grad_accum = N`: N micro-batches of B/N make the same step as one batch of B — the same
//! losses, gradient norms and parameters (both players and the EMA) up to float summation
//! order — for ADT and for plain fine-tuning; a micro-batch that breaks the batch-norm
//! groups is refused with the reason.

use adt_plugin::AdtConfig;
use adt_plugin::toy::{ToyParts, ToySizes};
use burn::prelude::*;

use crate::common::{close, config, max_diff, run_with, values};

/// Runs `base` at batch 4 and at 2 × 2. Adam's ε is raised to 1e-4 (both runs): some head
/// parameters have a gradient that is zero in exact arithmetic (a bias under a batch norm)
/// and ~1e-9 of float noise in practice, which Adam at ε = 1e-8 turns into full ±lr steps
/// whose sign depends on summation order.
fn assert_same_run(mut base: AdtConfig) {
    base.g_optim.eps = 1e-4;
    base.d_optim.eps = 1e-4;
    let tmp = tempfile::tempdir().unwrap();
    let one = AdtConfig {
        batch_size: 4,
        grad_accum: 1,
        ..base.clone()
    };
    let two = AdtConfig {
        batch_size: 2,
        grad_accum: 2,
        ..base
    };
    let a = run_with(one, &tmp.path().join("one"), None, false);
    let b = run_with(two, &tmp.path().join("two"), None, false);
    assert_eq!(a.history.len(), b.history.len());
    for ((s, x), (_, y)) in a.history.iter().zip(&b.history) {
        for (name, p, q) in [
            ("l_diff", x.l_diff, y.l_diff),
            ("g_adv", x.g_adv, y.g_adv),
            ("d_loss", x.d_loss, y.d_loss),
            ("d_real", x.d_real, y.d_real),
            ("d_acc", x.d_acc, y.d_acc),
            ("g_grad_norm", x.g_grad_norm, y.g_grad_norm),
            ("d_grad_norm", x.d_grad_norm, y.d_grad_norm),
        ] {
            assert!(close(p, q, 1e-4), "step {s} {name}: {p:?} vs {q:?}");
        }
    }
    let g = max_diff(&values(&a.model.generator), &values(&b.model.generator));
    let d = max_diff(
        &values(&a.model.discriminator),
        &values(&b.model.discriminator),
    );
    let e = max_diff(
        &values(&a.ema.unwrap().module),
        &values(&b.ema.unwrap().module),
    );
    assert!(
        g < 1e-5 && d < 1e-5 && e < 1e-5,
        "generator {g:e}, heads {d:e}, EMA {e:e}"
    );
}

#[test]
fn two_micro_batches_make_the_step_of_one_batch() {
    assert_same_run(AdtConfig {
        r1: false,
        ..config()
    });
}

#[test]
fn plain_fine_tuning_accumulates_alike() {
    assert_same_run(AdtConfig {
        adversarial: false,
        r1: false,
        ..config()
    });
}

#[test]
fn micro_batches_must_hold_whole_batch_norm_groups() {
    let d = Device::flex().autodiff();
    let cfg = AdtConfig {
        batch_size: 3,
        grad_accum: 2,
        ..config()
    };
    let e = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(cfg, 12, 16, &d)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("bn_group = 2") && e.contains("grad_accum = 2"),
        "{e}"
    );
    let zero = AdtConfig {
        grad_accum: 0,
        ..config()
    };
    assert!(
        zero.validate()
            .unwrap_err()
            .to_string()
            .contains("grad_accum")
    );
}
