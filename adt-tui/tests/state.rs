//! Dashboard state: ingesting event lines, EMA, resume rewinds.

use adt_tui::state::*;

fn step(s: u64, t: f64, g: f64) -> String {
    format!(
        r#"{{"type":"step","time":{t},"step":{s},"metrics":{{"g_adv":{g},"step_time_s":0.5}}}}"#
    )
}

#[test]
fn ingests_counts_and_estimates() {
    let mut st = DashboardState::default();
    st.ingest_line(r#"{"type":"run_start","time":0,"run":"r","total_steps":100,"resumed_from":null,"config":{"batch_size":4}}"#);
    for s in 1..=10 {
        st.ingest_line(&step(s, s as f64 * 0.5, 0.1 * s as f64));
    }
    st.ingest_line("garbage");
    st.ingest_line(r#"{"type":"new_kind"}"#);
    assert_eq!(st.stats.malformed, 1);
    assert_eq!(st.stats.foreign, 1);
    assert_eq!(st.latest("g_adv"), Some(1.0));
    let p = st.progress();
    assert_eq!(p.step, 10);
    assert_eq!(p.secs_per_step, Some(0.5));
    assert_eq!(p.images_per_sec, Some(8.0));
    assert_eq!(p.eta_secs, Some(45.0));
    assert!(st.is_adversarial());
}

#[test]
fn resume_rewinds_and_fresh_run_clears() {
    let mut st = DashboardState::default();
    for s in 1..=10 {
        st.ingest_line(&step(s, s as f64, 1.0));
    }
    st.ingest_line(r#"{"type":"run_start","time":0,"run":"r","resumed_from":6}"#);
    assert_eq!(st.last_step(), Some(6));
    st.ingest_line(&step(7, 20.0, 2.0));
    assert_eq!(
        st.series["g_adv"].values,
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    );
    // Duplicate / rewound step without run_start: the new value replaces.
    st.ingest_line(&step(7, 21.0, 3.0));
    assert_eq!(st.series["g_adv"].values.last(), Some(&3.0));
    assert_eq!(st.series["g_adv"].steps.len(), 7);
    st.ingest_line(r#"{"type":"run_start","time":0,"run":"again","resumed_from":null}"#);
    assert!(st.series.is_empty());
    assert_eq!(st.run.as_ref().unwrap().name, "again");
}

#[test]
fn ema_skips_nan() {
    let e = ema(&[1.0, f64::NAN, 3.0], 0.5);
    assert_eq!(e[0], 1.0);
    assert!(e[1].is_nan());
    assert_eq!(e[2], 2.0);
}
