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
