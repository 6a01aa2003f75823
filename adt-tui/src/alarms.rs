//! Viewer-side alarm detection over the step stream, merged with the engine's own
//! `alarm` events. Each alarm remembers the step where its condition began.
//!
//! The detectors look at one trailing window of steps; the thresholds are the named
//! constants below (hinge-loss D logits, so margins are in logit units).

use std::collections::{BTreeMap, VecDeque};

/// Steps in the trailing window of the collapse / overpowering detectors.
pub const DETECTION_WINDOW: usize = 50;
/// D "wins": mean sign accuracy over the window at or above this.
pub const D_ACC_OVERPOWER: f64 = 0.98;
/// ...while the generator's adversarial loss rose by at least this much (mean of the last
/// quarter of the window minus mean of the first quarter).
pub const G_ADV_RISE: f64 = 0.5;
/// D collapse: |D(real) − D(fake)| stayed below this for the whole window.
pub const COLLAPSE_MARGIN: f64 = 0.05;
/// Finite `l_diff` values averaged into the divergence baseline.
pub const BASELINE_STEPS: usize = 50;
/// EMA coefficient of `l_diff` for the divergence detector (≈ 40-step memory).
pub const L_DIFF_EMA_ALPHA: f64 = 0.05;
/// Divergence: the `l_diff` EMA exceeds this factor times its early baseline.
pub const DIVERGENCE_FACTOR: f64 = 3.0;
/// An alarm is shown as active until this many steps pass without it being raised again.
pub const ALARM_HOLD_STEPS: u64 = 20;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlarmKind {
    NonFinite,
    DCollapse,
    DOverpowering,
    Divergence,
    /// A kind only the engine knows.
    Other(String),
}

impl AlarmKind {
    /// From the `kind` field of an `alarm` event.
    pub fn from_event(kind: &str) -> Self {
        match kind {
            "non_finite" => Self::NonFinite,
            "d_collapse" => Self::DCollapse,
            "d_overpowering" => Self::DOverpowering,
            "divergence" => Self::Divergence,
            other => Self::Other(other.to_string()),
        }
    }

    /// Short label for the dashboard.
    pub fn label(&self) -> &str {
        match self {
            Self::NonFinite => "NaN/Inf",
            Self::DCollapse => "D collapse",
            Self::DOverpowering => "D overpowering",
            Self::Divergence => "divergence",
            Self::Other(s) => s,
        }
    }
}

/// Who raised an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmSource {
    Engine,
    Viewer,
    Both,
}

/// One alarm episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub kind: AlarmKind,
    /// The step where the condition began.
    pub began: u64,
    /// The last step it was (re-)raised.
    pub last: u64,
    pub message: String,
    pub source: AlarmSource,
}

impl Alarm {
    /// Still going at `current_step`?
    pub fn active_at(&self, current_step: u64) -> bool {
        current_step.saturating_sub(self.last) <= ALARM_HOLD_STEPS
    }
}

/// Incremental detectors + the list of episodes.
#[derive(Debug, Clone, Default)]
pub struct AlarmTracker {
    alarms: Vec<Alarm>,
    window: VecDeque<WindowStep>,
    collapse_since: Option<u64>,
    baseline: Vec<f64>,
    l_diff_ema: Option<f64>,
    divergence_since: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct WindowStep {
    step: u64,
    d_acc: Option<f64>,
    g_adv: Option<f64>,
}

impl AlarmTracker {
    /// All episodes, oldest first.
    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }

    /// Feeds one step's metrics (`None` = non-finite). Steps must arrive in order.
    pub fn observe_step(&mut self, step: u64, metrics: &BTreeMap<String, Option<f64>>) {
        let get = |k: &str| metrics.get(k).copied().flatten().filter(|v| v.is_finite());
        let bad: Vec<&str> = metrics
            .iter()
            .filter(|(_, v)| !v.is_some_and(f64::is_finite))
            .map(|(k, _)| k.as_str())
            .collect();
        if !bad.is_empty() {
            let msg = format!("non-finite {}", bad.join(", "));
            self.raise(AlarmKind::NonFinite, step, step, msg, AlarmSource::Viewer);
        }

        let margin = match (get("d_real"), get("d_fake")) {
            (Some(r), Some(f)) => Some(r - f),
            _ => None,
        };
        self.window.push_back(WindowStep {
            step,
            d_acc: get("d_acc"),
            g_adv: get("g_adv"),
        });
        if self.window.len() > DETECTION_WINDOW {
            self.window.pop_front();
        }
        self.detect_collapse(step, margin);
        self.detect_overpowering(step);
        self.detect_divergence(step, get("l_diff"));
    }

    /// An `alarm` event from the engine.
    pub fn engine_alarm(&mut self, step: u64, kind: &str, message: &str) {
        self.raise(
            AlarmKind::from_event(kind),
            step,
            step,
            message.to_string(),
            AlarmSource::Engine,
        );
    }

    fn detect_collapse(&mut self, step: u64, margin: Option<f64>) {
        match margin {
            Some(m) if m.abs() < COLLAPSE_MARGIN => {
                let since = *self.collapse_since.get_or_insert(step);
                let run = self
                    .window
                    .iter()
                    .rev()
                    .take_while(|w| w.step >= since)
                    .count();
                if run >= DETECTION_WINDOW {
                    let msg = format!("|D(real)−D(fake)| < {COLLAPSE_MARGIN} for {run} steps");
                    self.raise(AlarmKind::DCollapse, since, step, msg, AlarmSource::Viewer);
                }
            }
            Some(_) => self.collapse_since = None,
            None => {}
        }
    }

    fn detect_overpowering(&mut self, step: u64) {
        if self.window.len() < DETECTION_WINDOW {
            return;
        }
        let accs: Vec<f64> = self.window.iter().filter_map(|w| w.d_acc).collect();
        if accs.len() < DETECTION_WINDOW / 2 {
            return;
        }
        let mean_acc = accs.iter().sum::<f64>() / accs.len() as f64;
        let g: Vec<f64> = self.window.iter().filter_map(|w| w.g_adv).collect();
        if mean_acc < D_ACC_OVERPOWER || g.len() < 8 {
            return;
        }
        let q = g.len() / 4;
        let first = g[..q].iter().sum::<f64>() / q as f64;
        let last = g[g.len() - q..].iter().sum::<f64>() / q as f64;
        if last - first >= G_ADV_RISE {
            // Began where the current stretch of near-perfect D accuracy began.
            let began = self
                .window
                .iter()
                .rev()
                .take_while(|w| w.d_acc.is_none_or(|a| a >= D_ACC_OVERPOWER))
                .last()
                .map_or(step, |w| w.step);
            let msg = format!(
                "D acc {mean_acc:.3} over {DETECTION_WINDOW} steps, g_adv {first:.2} → {last:.2}"
            );
            self.raise(
                AlarmKind::DOverpowering,
                began,
                step,
                msg,
                AlarmSource::Viewer,
            );
        }
    }

    fn detect_divergence(&mut self, step: u64, l_diff: Option<f64>) {
        let Some(x) = l_diff else { return };
        let ema = match self.l_diff_ema {
            Some(e) => e + L_DIFF_EMA_ALPHA * (x - e),
            None => x,
        };
        self.l_diff_ema = Some(ema);
        if self.baseline.len() < BASELINE_STEPS {
            self.baseline.push(x);
            return;
        }
        let base = self.baseline.iter().sum::<f64>() / self.baseline.len() as f64;
        if base > 0.0 && ema > DIVERGENCE_FACTOR * base {
            let since = *self.divergence_since.get_or_insert(step);
            let msg = format!("l_diff EMA {ema:.4} > {DIVERGENCE_FACTOR}× baseline {base:.4}");
            self.raise(AlarmKind::Divergence, since, step, msg, AlarmSource::Viewer);
        } else {
            self.divergence_since = None;
        }
    }

    /// Opens a new episode, or extends the running one of the same kind.
    fn raise(&mut self, kind: AlarmKind, began: u64, step: u64, message: String, src: AlarmSource) {
        if let Some(a) = self
            .alarms
            .iter_mut()
            .rev()
            .find(|a| a.kind == kind && a.active_at(step))
        {
            a.last = a.last.max(step);
            a.began = a.began.min(began);
            if a.source != src {
                a.source = AlarmSource::Both;
            }
            if src == AlarmSource::Engine || a.source == AlarmSource::Viewer {
                a.message = message;
            }
            return;
        }
        self.alarms.push(Alarm {
            kind,
            began,
            last: step,
            message,
            source: src,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
