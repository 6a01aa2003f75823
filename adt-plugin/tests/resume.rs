//! An interrupted and resumed run ends bit-identical to an uninterrupted one: same parameters
//! (generator, heads incl. spectral-norm state, EMA) and the same per-step metric values.

use std::path::Path;

use adt_plugin::events::RunStatus;
use adt_plugin::metrics::StepMetrics;
use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use adt_plugin::{AdtConfig, RunReport};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

type Report = RunReport<adt_plugin::toy::Toy>;

struct Snap(Vec<Vec<u32>>);
impl ModuleVisitor for Snap {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push(
            p.val()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect(),
        );
    }
}
pub fn bits<M: Module>(m: &M) -> Vec<Vec<u32>> {
    let mut s = Snap(Vec::new());
    m.visit(&mut s);
    s.0
}

pub fn config() -> AdtConfig {
    AdtConfig {
        total_steps: 6,
        checkpoint_every: 100,
        r1: true,
        lr_schedule: adt_plugin::config::LrScheduleConfig {
            warmup_steps: 2,
            decay: adt_plugin::config::LrDecay::Cosine,
            min_lr_ratio: 0.1,
        },
        ..toy_config()
    }
}

/// A toy run of `config` in `dir`, interrupted after step `stop_after`, or resumed.
pub fn run_with(config: AdtConfig, dir: &Path, stop_after: Option<usize>, resume: bool) -> Report {
    let d = Device::flex().autodiff();
    let d = if config.gradient_checkpointing {
        d.gradient_checkpointing()
    } else {
        d
    };
    let trainer = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(config, 12, 16, &d)
        .unwrap()
        .resume(resume);
    let int = trainer.interrupter();
    let trainer = trainer.on_step(move |s, _| {
        if Some(s) == stop_after {
            int.stop(Some("test interruption"));
        }
    });
    trainer.run(dir).unwrap()
}

fn comparable(m: &StepMetrics) -> StepMetrics {
    StepMetrics {
        step_time_s: None,
        ..m.clone()
    }
}

#[test]
fn interrupted_and_resumed_run_matches_uninterrupted_bit_exactly() {
    assert_resume_is_exact(config());
}

/// Run `config` (6 steps) straight and interrupted at step 3 + resumed: same metrics and
/// bit-identical generator, heads and EMA.
pub fn assert_resume_is_exact(config: AdtConfig) {
    let run = |dir: &Path, stop, resume| run_with(config.clone(), dir, stop, resume);
    let tmp = tempfile::tempdir().unwrap();
    let full = run(&tmp.path().join("full"), None, false);
    assert_eq!(full.status, RunStatus::Finished);
    assert_eq!(full.step, 6);

    let part_dir = tmp.path().join("part");
    let first = run(&part_dir, Some(3), false);
    assert_eq!(first.status, RunStatus::Interrupted);
    assert_eq!(first.step, 3);
    assert!(part_dir.join("checkpoints/step-3/state.json").is_file());
    let second = run(&part_dir, None, true);
    assert_eq!(second.status, RunStatus::Finished);
    assert_eq!(second.step, 6);
    assert_eq!(
        second.history.first().map(|h| h.0),
        Some(4),
        "resume must continue at step 4"
    );

    // Metrics: steps 1-3 from the first session, 4-6 from the resumed one.
    let resumed: Vec<_> = first
        .history
        .iter()
        .chain(&second.history)
        .map(|(s, m)| (*s, comparable(m)))
        .collect();
    let straight: Vec<_> = full
        .history
        .iter()
        .map(|(s, m)| (*s, comparable(m)))
        .collect();
    assert_eq!(resumed, straight, "metric values differ after resume");

    assert!(
        bits(&full.model.generator) == bits(&second.model.generator),
        "generator differs after resume"
    );
    assert!(
        bits(&full.model.discriminator) == bits(&second.model.discriminator),
        "heads differ after resume"
    );
    let (ea, eb) = (full.ema.unwrap(), second.ema.unwrap());
    assert!(
        bits(&ea.module) == bits(&eb.module),
        "EMA differs after resume"
    );
}
