//! A checkpoint write killed half-way (a real `abort()` of a child process) leaves the previous
//! checkpoint loadable, and a resumed run continues from it.

use std::path::PathBuf;
use std::process::Command;

use adt_plugin::AdtConfig;
use adt_plugin::checkpoint::{CheckpointDir, TrainState, files};
use adt_plugin::rng::EngineRng;
use adt_plugin::toy::{ToyParts, ToySizes, toy_config};
use burn::prelude::*;

const CHILD_ENV: &str = "ADT_CRASH_CHILD_DIR";

/// Runs only inside the child: starts writing checkpoint 6 (a real model file, then half of the
/// optimizer file) and dies.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let d = Device::flex().autodiff();
    let model = ToyParts::new(ToySizes::default(), 3, &d)
        .model(config(), &d)
        .unwrap();
    let state = TrainState {
        step: 6,
        batches_consumed: 6,
        rng: EngineRng::new(0),
        nonfinite_in_row: 0,
        has_ema: true,
        devices: 1,
    };
    let _ = CheckpointDir::new(&PathBuf::from(dir)).write(6, &state, |tmp| {
        model.clone().save_file(tmp.join(files::MODEL)).unwrap();
        std::fs::write(tmp.join(files::OPTIM_G), b"BURNPACK half").unwrap();
        std::process::abort();
    });
    unreachable!("the child must have aborted");
}

fn config() -> AdtConfig {
    AdtConfig {
        total_steps: 3,
        checkpoint_every: 3,
        ..toy_config()
    }
}

#[test]
fn killed_checkpoint_write_leaves_previous_loadable() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let d = Device::flex().autodiff();
    let r = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(config(), 8, 16, &d)
        .unwrap()
        .run(&run_dir)
        .unwrap();
    assert_eq!(r.step, 3);

    // The child's test name as the harness lists it (module path without the crate name).
    let child = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::crash_child_writer"),
        None => "crash_child_writer".to_string(),
    };
    let status = Command::new(std::env::current_exe().unwrap())
        .args([child.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &run_dir)
        .status()
        .unwrap();
    assert!(!status.success(), "the child was supposed to die mid-write");
    let ck = CheckpointDir::new(&run_dir);
    assert!(
        ck.root().join("step-6.tmp").is_dir(),
        "the half-written checkpoint should be left behind"
    );
    let (step, dir) = ck.latest().expect("previous checkpoint lost");
    assert_eq!(step, 3);
    assert_eq!(CheckpointDir::read_state(&dir).unwrap().step, 3);

    // Resume to 6 steps from the surviving checkpoint.
    let cfg = AdtConfig {
        total_steps: 6,
        ..config()
    };
    let r = ToyParts::new(ToySizes::default(), 3, &d)
        .trainer(cfg, 8, 16, &d)
        .unwrap()
        .resume(true)
        .run(&run_dir)
        .unwrap();
    assert_eq!(r.history.first().map(|h| h.0), Some(4));
    assert_eq!(r.step, 6);
    assert_eq!(ck.latest().unwrap().0, 6);
    assert!(
        !ck.root().join("step-6.tmp").exists(),
        "stale temp dir should be replaced"
    );
}
