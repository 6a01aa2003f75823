//! The image-to-image start index s of each start policy: which values it takes over many
//! draws, and that the K graph steps stay inside the executed range.

use std::collections::BTreeSet;

use adt_plugin::config::{KPolicy, StartPolicy};
use adt_plugin::inference::SimulationPlan;
use adt_plugin::rng::EngineRng;

/// The set of start indices `policy` draws for `m` steps over 400 draws.
fn starts(policy: StartPolicy, m: usize) -> BTreeSet<usize> {
    let mut rng = EngineRng::new(7);
    (0..400)
        .map(|_| {
            let plan = SimulationPlan::draw(m, 1, policy, KPolicy::Random, &mut rng);
            assert!(plan.graph_steps.iter().all(|i| plan.executed().contains(i)));
            plan.start_index()
        })
        .collect()
}

#[test]
fn uniform_draws_every_start_from_1_to_m() {
    assert_eq!(starts(StartPolicy::Uniform, 8), (1..=8).collect());
}

#[test]
fn full_always_starts_at_m() {
    assert_eq!(starts(StartPolicy::Full, 8), BTreeSet::from([8]));
}

#[test]
fn refine_never_starts_at_m() {
    assert_eq!(starts(StartPolicy::Refine, 8), (1..=7).collect());
    // One sampler step leaves nothing below m: the single step is run.
    assert_eq!(starts(StartPolicy::Refine, 1), BTreeSet::from([1]));
}

#[test]
fn the_plan_is_recorded_as_metrics() {
    let mut rng = EngineRng::new(3);
    for _ in 0..50 {
        let plan = SimulationPlan::draw(8, 1, StartPolicy::Uniform, KPolicy::Random, &mut rng);
        let mut m = adt_plugin::metrics::StepMetrics::default();
        plan.record(&mut m);
        assert_eq!(m.start_s, Some(plan.start_index() as f64));
        let g = m.graph_step.expect("K = 1 keeps one graph step") as usize;
        assert!(plan.executed().contains(&g) && plan.graph_steps == [g]);
    }
}
