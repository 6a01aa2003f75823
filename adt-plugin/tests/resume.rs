//! An interrupted and resumed run ends bit-identical to an uninterrupted one: same parameters
//! (generator, heads incl. spectral-norm state, EMA) and the same per-step metric values.

use std::path::Path;

use adt_plugin::AdtConfig;
use adt_plugin::events::RunStatus;
use adt_plugin::metrics::StepMetrics;

use crate::common::{bits, config, run_with};

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
