//! The dashboard's alarms: NaN, collapse, overpowering, divergence, engine alarms merged.

use std::collections::BTreeMap;

use adt_tui::alarms::*;

fn m(pairs: &[(&str, Option<f64>)]) -> BTreeMap<String, Option<f64>> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn healthy(step: u64) -> BTreeMap<String, Option<f64>> {
    let wobble = (step as f64 * 0.7).sin() * 0.05;
    m(&[
        ("d_real", Some(0.8 + wobble)),
        ("d_fake", Some(-0.6 - wobble)),
        ("d_acc", Some(0.8)),
        ("g_adv", Some(0.6 + wobble)),
        ("l_diff", Some(0.1 + wobble * 0.1)),
    ])
}

#[test]
fn healthy_run_raises_nothing() {
    let mut t = AlarmTracker::default();
    for s in 1..=500 {
        t.observe_step(s, &healthy(s));
    }
    assert!(t.alarms().is_empty(), "{:?}", t.alarms());
}

#[test]
fn nan_alarm_begins_at_first_bad_step_and_expires() {
    let mut t = AlarmTracker::default();
    for s in 1..=100 {
        let mut x = healthy(s);
        if (40..=42).contains(&s) {
            x.insert("g_adv".into(), None);
        }
        t.observe_step(s, &x);
    }
    let a = &t.alarms()[0];
    assert_eq!(
        (a.kind.clone(), a.began, a.last),
        (AlarmKind::NonFinite, 40, 42)
    );
    assert!(a.message.contains("g_adv"));
    assert!(a.active_at(42 + ALARM_HOLD_STEPS) && !a.active_at(43 + ALARM_HOLD_STEPS));
    assert_eq!(t.alarms().len(), 1);
}

#[test]
fn collapse_needs_a_full_window_and_reports_its_start() {
    let mut t = AlarmTracker::default();
    for s in 1..=300 {
        let mut x = healthy(s);
        if s >= 120 {
            x.insert("d_real".into(), Some(0.01));
            x.insert("d_fake".into(), Some(0.0));
        }
        t.observe_step(s, &x);
        if s == 120 + DETECTION_WINDOW as u64 - 2 {
            assert!(t.alarms().is_empty(), "raised before a full window");
        }
    }
    let a = &t.alarms()[0];
    assert_eq!(
        (a.kind.clone(), a.began, a.last),
        (AlarmKind::DCollapse, 120, 300)
    );
}

#[test]
fn overpowering_needs_high_accuracy_and_rising_g_adv() {
    let run = |g_slope: f64| {
        let mut t = AlarmTracker::default();
        for s in 1..=200u64 {
            let mut x = healthy(s);
            if s > 100 {
                x.insert("d_acc".into(), Some(1.0));
                x.insert("g_adv".into(), Some(0.6 + g_slope * (s - 100) as f64));
            }
            t.observe_step(s, &x);
        }
        t
    };
    let flat = run(0.0);
    assert!(
        flat.alarms().is_empty(),
        "accuracy alone is not overpowering"
    );
    let rising = run(0.05);
    let a = &rising.alarms()[0];
    assert_eq!(a.kind, AlarmKind::DOverpowering);
    assert!(a.began > 100 && a.began < 160, "began {}", a.began);
}

#[test]
fn divergence_against_early_baseline() {
    let mut t = AlarmTracker::default();
    for s in 1..=400u64 {
        let mut x = healthy(s);
        if s > 200 {
            x.insert("l_diff".into(), Some(0.1 * 1.02f64.powi((s - 200) as i32)));
        }
        t.observe_step(s, &x);
    }
    let a = &t.alarms()[0];
    assert_eq!(a.kind, AlarmKind::Divergence);
    // EMA crosses 3× (0.3) some tens of steps after l_diff does (s ≈ 256).
    assert!(a.began > 256 && a.began < 320, "began {}", a.began);
}

#[test]
fn engine_alarm_merges_with_viewer_episode() {
    let mut t = AlarmTracker::default();
    t.observe_step(5, &m(&[("g_adv", None)]));
    t.engine_alarm(5, "non_finite", "g_adv is NaN at step 5");
    t.engine_alarm(7, "lr_spike", "custom");
    assert_eq!(t.alarms().len(), 2);
    assert_eq!(t.alarms()[0].source, AlarmSource::Both);
    assert_eq!(t.alarms()[0].message, "g_adv is NaN at step 5");
    assert_eq!(t.alarms()[1].kind, AlarmKind::Other("lr_spike".into()));
}
