//! `cpu_shards`: a step whose batch runs in shards side by side on the CPU makes the step of
//! the whole batch up to float summation order (ADT with R1, CFG, text-conditioned heads and
//! two D updates, and plain fine-tuning; even and uneven shards), repeats itself bit for bit,
//! and splits rows as documented; a batch whose cached rows disagree is refused before any
//! shard slices it.

use adt_plugin::AdtConfig;
use adt_plugin::model::AdtBatch;
use adt_plugin::shards::{Shards, cat_rows};
use adt_plugin::toy::{ToyParts, ToySizes, toy_loader};
use adt_plugin::traits::Conditioner;
use burn::prelude::*;

use crate::common::{assert_same_training, bits, config, run_with};

fn with_shards(base: &AdtConfig, shards: usize) -> AdtConfig {
    AdtConfig {
        cpu_shards: Some(shards),
        ..base.clone()
    }
}

#[test]
fn shards_split_rows_evenly() {
    let ranges = |b, n| Shards::even(b, n).ranges().to_vec();
    assert_eq!(ranges(8, 2), vec![0..4, 4..8]);
    assert_eq!(ranges(8, 3), vec![0..3, 3..6, 6..8]);
    // No empty shard: at most one per row.
    assert_eq!(ranges(2, 4), vec![0..1, 1..2]);
    assert_eq!(ranges(5, 1), vec![0..5]);
    let flex = Device::flex().autodiff();
    let cfg = with_shards(&config(), 3);
    assert_eq!(Shards::for_step(&cfg, &flex, 8).len(), 3);
    assert_eq!(Shards::for_step(&cfg, &flex, 2).len(), 2);
    // Unset: one per thread of rayon's pool.
    let auto = AdtConfig {
        cpu_shards: None,
        ..config()
    };
    assert_eq!(
        Shards::for_step(&auto, &flex, 64).len(),
        rayon::current_num_threads().min(64)
    );
}

#[test]
fn cat_rows_joins_each_entry_in_shard_order() {
    let d = Device::flex();
    let t = |v: [f32; 2]| Tensor::<2>::from_floats([v], &d);
    let joined = cat_rows(vec![
        vec![t([1.0, 2.0]), t([5.0, 6.0])],
        vec![t([3.0, 4.0]), t([7.0, 8.0])],
    ]);
    let rows: Vec<Vec<f32>> = joined
        .into_iter()
        .map(|x| x.into_data().try_into_vec::<f32>().unwrap())
        .collect();
    assert_eq!(
        rows,
        vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0]]
    );
}

#[test]
fn shards_make_the_step_of_the_whole_batch() {
    // `config()` has R1 on: the probes come from the step's R1 seed either way.
    let base = config();
    assert_same_training(with_shards(&base, 1), with_shards(&base, 2));
    // Uneven shards (2, 1, 1 rows of 4).
    assert_same_training(with_shards(&base, 1), with_shards(&base, 3));
    // The adversarial term alone (in the toy, L_diff's gradient outweighs it).
    let adversarial = AdtConfig {
        lambda_diff: 0.0,
        ..base
    };
    assert_same_training(with_shards(&adversarial, 1), with_shards(&adversarial, 2));
}

#[test]
fn shards_hold_with_cfg_text_heads_and_two_d_updates() {
    // Shards slice the unconditional condition too; the text-conditioned heads see the whole
    // batch's pooled prompts; each D update has its own draws.
    let base = AdtConfig {
        cfg_scale: 2.0,
        text_cond: true,
        d_steps_per_g: 2,
        ..config()
    };
    assert_same_training(with_shards(&base, 1), with_shards(&base, 2));
}

#[test]
fn a_batch_whose_cached_rows_disagree_is_refused_by_name() {
    let d = Device::flex().autodiff();
    let model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(with_shards(&config(), 2), &d)
        .unwrap();
    let batch: AdtBatch = toy_loader(8, 16, 4, 0, &d).iter().next().unwrap().unwrap();
    let latents = model.prepare(&batch).unwrap().x0;
    let short = AdtBatch {
        latents: Some(latents.narrow(0, 0, 3)),
        ..batch.clone()
    };
    let e = model.prepare(&short).unwrap_err().to_string();
    assert!(
        e.contains("batch latents") && e.contains("3 cached latents for 4"),
        "{e}"
    );
    let text = model.ctx.conditioner.encode_text(&batch.prompts[..2], &d);
    let short = AdtBatch {
        text: Some(text),
        ..batch
    };
    let e = model.prepare(&short).unwrap_err().to_string();
    assert!(e.contains("batch text embeddings"), "{e}");
}

#[test]
fn plain_fine_tuning_shards_alike() {
    let base = AdtConfig {
        adversarial: false,
        ..config()
    };
    assert_same_training(with_shards(&base, 1), with_shards(&base, 2));
}

#[test]
fn sharded_runs_repeat_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = with_shards(&config(), 2);
    let a = run_with(cfg.clone(), &tmp.path().join("a"), None, false);
    let b = run_with(cfg, &tmp.path().join("b"), None, false);
    assert!(bits(&a.model.generator) == bits(&b.model.generator));
    assert!(bits(&a.model.discriminator) == bits(&b.model.discriminator));
}

#[test]
fn zero_shards_are_refused_by_name() {
    let e = with_shards(&config(), 0)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("cpu_shards"), "{e}");
}
