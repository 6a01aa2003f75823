//! A NaN loss skips the update, is recorded as an alarm, and stops the run after
//! `max_nonfinite_in_row` in a row with a clear error; the checkpoint written before survives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use adt_plugin::checkpoint::CheckpointDir;
use adt_plugin::rng::EngineRng;
use adt_plugin::toy::{ToyDenoiser, ToyParts, ToySizes, ToyWith, toy_config, toy_loader};
use adt_plugin::traits::{Conditioning, Denoiser, Prediction};
use adt_plugin::{AdtConfig, AdtError, AdtModel, AdtTrainer, Parts};
use burn::module::Module;
use burn::prelude::*;

/// The toy denoiser, poisoned with NaN once the flag is set.
#[derive(Module, Debug)]
struct Poisonable {
    inner: ToyDenoiser,
    #[module(skip)]
    poison: Arc<AtomicBool>,
}

impl Denoiser for Poisonable {
    fn prediction(&self) -> Prediction {
        Prediction::Epsilon
    }
    fn forward(&self, x: Tensor<4>, t: Tensor<1>, c: &Conditioning) -> Tensor<4> {
        let y = self.inner.forward(x, t, c);
        if self.poison.load(Ordering::SeqCst) {
            y.mul_scalar(f32::NAN)
        } else {
            y
        }
    }
}

fn poison_parts(parts: ToyParts, poison: Arc<AtomicBool>) -> Parts<ToyWith<Poisonable>> {
    parts.parts_with(|inner| Poisonable { inner, poison }, |c| c)
}

#[test]
fn nan_losses_skip_updates_then_stop_the_run() {
    let d = Device::flex().autodiff();
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("nan");
    let cfg = AdtConfig {
        total_steps: 10,
        checkpoint_every: 2,
        max_nonfinite_in_row: 3,
        ..toy_config()
    };
    let parts = ToyParts::new(ToySizes::default(), 3, &d);
    let poison = Arc::new(AtomicBool::new(false));
    let data = toy_loader(12, 16, cfg.batch_size, cfg.seed, &d);
    let trainer = AdtTrainer::new(cfg, poison_parts(parts, poison.clone()), data, &d)
        .unwrap()
        .on_step(move |s, _| {
            if s == 2 {
                poison.store(true, Ordering::SeqCst);
            }
        });
    let err = match trainer.run(&run_dir) {
        Err(e) => e,
        Ok(r) => panic!("run should have stopped, ended at step {}", r.step),
    };
    match &err {
        AdtError::NonFinite { count, step, .. } => assert_eq!((*count, *step), (3, 5)),
        e => panic!("wrong error: {e}"),
    }
    assert!(err.to_string().contains("consecutive"), "{err}");

    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alarms: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "alarm" && l["kind"] == "non_finite")
        .collect();
    assert!(
        alarms.len() >= 3,
        "expected non_finite alarms, got {alarms:?}"
    );
    let step3 = lines
        .iter()
        .find(|l| l["type"] == "step" && l["step"] == 3)
        .unwrap();
    assert!(
        step3["metrics"]["g_total"].is_null(),
        "non-finite values are written as null"
    );
    let end = lines.last().unwrap();
    assert_eq!(end["type"], "run_end");
    assert_eq!(end["status"], "failed");

    // The checkpoint of step 2 (before the NaNs) is intact and is still the latest.
    let ck = CheckpointDir::new(&run_dir);
    let (step, dir) = ck.latest().unwrap();
    assert_eq!(step, 2);
    assert_eq!(CheckpointDir::read_state(&dir).unwrap().step, 2);
    let parts = poison_parts(
        ToyParts::new(ToySizes::default(), 3, &d),
        Arc::new(AtomicBool::new(false)),
    );
    let model = AdtModel::from_parts(toy_config(), parts, &mut EngineRng::new(0), &d).unwrap();
    let loaded = model
        .try_load_file(dir.join("model.bpk"))
        .expect("checkpoint loads");
    assert!(
        crate::common::bits(&loaded.generator)
            .iter()
            .flatten()
            .all(|b| f32::from_bits(*b).is_finite())
    );
}
