//! `grad_accum = N`: N micro-batches of B/N make the same step as one batch of B — the same
//! losses, gradient norms and parameters (both players and the EMA) up to float summation
//! order — for ADT and for plain fine-tuning; a micro-batch that breaks the batch-norm
//! groups is refused with the reason.

use adt_plugin::AdtConfig;
use adt_plugin::toy::{ToyParts, ToySizes};
use burn::prelude::*;

use crate::common::{assert_same_training, config};

/// Runs `base` at batch 4 and at 2 × 2.
fn assert_same_run(base: AdtConfig) {
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
    assert_same_training(one, two);
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
