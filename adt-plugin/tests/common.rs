//! Helpers of the engine's run-level tests: the toy run they share and parameter snapshots.

use std::path::Path;

use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use adt_plugin::{AdtConfig, RunReport};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

pub type Report = RunReport<adt_plugin::toy::Toy>;

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
    run_on(config, dir, stop_after, resume, 1)
}

/// [`run_with`] data-parallel on `devices` replicas (the CPU's one flex device each time: the
/// replicas run on their own threads, as on separate GPUs).
pub fn run_on(
    config: AdtConfig,
    dir: &Path,
    stop_after: Option<usize>,
    resume: bool,
    devices: usize,
) -> Report {
    let d = Device::flex().autodiff();
    let d = if config.gradient_checkpointing {
        d.gradient_checkpointing()
    } else {
        d
    };
    let trainer = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(config, 12, 16, &d)
        .unwrap()
        .on_devices(vec![d.clone(); devices - 1])
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

struct Values(Vec<f32>);
impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.extend(p.val().into_data().iter::<f32>());
    }
}

/// Every float parameter of `m`, flattened in visiting order.
pub fn values<M: Module>(m: &M) -> Vec<f32> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

/// Largest absolute difference of two equally long value lists.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Two optional metric values agree to `tol` relative (both absent counts as agreeing).
pub fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-2),
        (None, None) => true,
        _ => false,
    }
}
