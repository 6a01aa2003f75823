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

/// Two toy runs, of `a` and of `b`, make the same training up to float summation order
/// ([`assert_same_reports`]). Adam's ε is raised to 1e-4 in both: some head parameters have
/// a gradient that is zero in exact arithmetic (a bias under a batch norm) and ~1e-9 of float
/// noise in practice, which Adam at ε = 1e-8 turns into full ±lr steps whose sign depends on
/// summation order.
pub fn assert_same_training(mut a: AdtConfig, mut b: AdtConfig) {
    for c in [&mut a, &mut b] {
        c.g_optim.eps = 1e-4;
        c.d_optim.eps = 1e-4;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = run_with(a, &tmp.path().join("a"), None, false);
    let b = run_with(b, &tmp.path().join("b"), None, false);
    assert_same_reports(&a, &b);
}

/// Two runs made the same training up to float summation order: the same losses, D
/// statistics and gradient norms each step (1e-4 relative), and the same parameters (both
/// players, and the EMA where kept) at the end (1e-5).
pub fn assert_same_reports(a: &Report, b: &Report) {
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
    let e = match (&a.ema, &b.ema) {
        (Some(x), Some(y)) => max_diff(&values(&x.module), &values(&y.module)),
        (None, None) => 0.0,
        _ => panic!("one run kept an EMA, the other did not"),
    };
    assert!(
        g < 1e-5 && d < 1e-5 && e < 1e-5,
        "generator {g:e}, heads {d:e}, EMA {e:e}"
    );
}
