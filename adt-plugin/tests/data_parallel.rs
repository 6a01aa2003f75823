//! Data parallel (`AdtTrainer::on_devices`): two replicas, each on its own thread with half of
//! the global batch, train the run one device trains at the same global batch — the same
//! metrics and parameters to 1e-5, and bit-identical to accumulating the same two
//! micro-batches on one device; resume stays exact; a replica device that disagrees with the
//! config is refused.

use adt_plugin::AdtConfig;
use adt_plugin::toy::{ToyParts, ToySizes};
use burn::prelude::*;

use crate::common::{assert_same_reports, bits, config, run_on};

/// Adam's ε raised as in `accumulation.rs` (zero-in-exact-arithmetic gradients).
fn base() -> AdtConfig {
    let mut c = AdtConfig {
        r1: false,
        ..config()
    };
    c.g_optim.eps = 1e-4;
    c.d_optim.eps = 1e-4;
    c
}

#[test]
fn two_replicas_train_the_one_device_run_at_the_same_global_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let one = run_on(
        AdtConfig {
            batch_size: 4,
            ..base()
        },
        &tmp.path().join("one"),
        None,
        false,
        1,
    );
    let half = AdtConfig {
        batch_size: 2,
        ..base()
    };
    let two = run_on(half.clone(), &tmp.path().join("two"), None, false, 2);
    let accumulated = run_on(
        AdtConfig {
            grad_accum: 2,
            ..half
        },
        &tmp.path().join("accum"),
        None,
        false,
        1,
    );
    assert_same_reports(&one, &two);
    assert!(
        bits(&two.model.generator) == bits(&accumulated.model.generator)
            && bits(&two.model.discriminator) == bits(&accumulated.model.discriminator),
        "two replicas differ from accumulating their micro-batches on one device"
    );
}

#[test]
fn a_data_parallel_run_resumes_bit_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let c = AdtConfig {
        batch_size: 2,
        ..base()
    };
    let full = run_on(c.clone(), &tmp.path().join("full"), None, false, 2);
    let dir = tmp.path().join("part");
    run_on(c.clone(), &dir, Some(3), false, 2);
    let resumed = run_on(c, &dir, None, true, 2);
    assert_eq!(resumed.step, 6);
    assert!(bits(&full.model.generator) == bits(&resumed.model.generator));
    assert!(bits(&full.model.discriminator) == bits(&resumed.model.discriminator));
}

#[test]
fn a_replica_device_that_disagrees_is_refused() {
    let d = Device::flex().autodiff();
    let err = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(base(), 12, 16, &d)
        .unwrap()
        .on_devices(vec![d.clone().gradient_checkpointing()])
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("gradient_checkpointing"), "{err}");
}
