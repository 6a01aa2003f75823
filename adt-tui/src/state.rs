//! The dashboard's model of a run, fed with [`Event`]s from either source (the
//! `events.jsonl` tail or the live burn-train renderer), so both modes draw the same widgets.

use std::collections::BTreeMap;

use crate::alarms::AlarmTracker;
use crate::events::{Event, LineError, RunConfig, RunEnd, SampleEvent, parse_line};
use crate::tail::SourceStatus;

/// Step events averaged for the throughput / ETA estimate.
pub const RATE_WINDOW: usize = 50;

/// One metric's history: parallel `steps`/`values`; `NaN` marks a non-finite value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub steps: Vec<u64>,
    pub values: Vec<f64>,
}

impl Series {
    /// The last value (may be NaN).
    pub fn last(&self) -> Option<f64> {
        self.values.last().copied()
    }

    fn push(&mut self, step: u64, v: f64) {
        self.steps.push(step);
        self.values.push(v);
    }

    fn truncate_from(&mut self, step: u64) {
        let keep = self.steps.partition_point(|&s| s < step);
        self.steps.truncate(keep);
        self.values.truncate(keep);
    }
}

/// `run_start` as the dashboard keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunInfo {
    pub name: String,
    pub total_steps: Option<u64>,
    pub resumed_from: Option<u64>,
    pub started: f64,
    pub config: RunConfig,
}

/// Counts of what the reader saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestStats {
    pub events: u64,
    /// Lines that were not valid events (skipped).
    pub malformed: u64,
    /// Valid JSON of an unknown `type` (skipped by contract).
    pub foreign: u64,
    pub last_error: Option<String>,
    /// How many times the source was reset (file truncated/replaced, new run).
    pub resets: u64,
}

/// Throughput / ETA estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub step: u64,
    pub total: Option<u64>,
    /// Mean wall seconds per step over the last [`RATE_WINDOW`] steps.
    pub secs_per_step: Option<f64>,
    pub images_per_sec: Option<f64>,
    pub eta_secs: Option<f64>,
}

/// Everything the widgets read.
#[derive(Debug, Clone, Default)]
pub struct DashboardState {
    pub run: Option<RunInfo>,
    pub series: BTreeMap<String, Series>,
    /// `time` of each step event (for throughput when `step_time_s` is absent).
    pub step_times: Series,
    pub alarms: AlarmTracker,
    pub samples: Vec<SampleEvent>,
    pub last_checkpoint: Option<(Option<u64>, String)>,
    pub end: Option<RunEnd>,
    pub stats: IngestStats,
    pub source: Option<SourceStatus>,
    /// Incremented on every change, so a UI can skip redundant redraws.
    pub generation: u64,
}

impl DashboardState {
    /// Parses and ingests one line; bad lines are counted, never fatal.
    pub fn ingest_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        match parse_line(line) {
            Ok(ev) => self.ingest(ev),
            Err(e) => {
                match &e {
                    LineError::Malformed(_) => self.stats.malformed += 1,
                    LineError::Foreign(_) => self.stats.foreign += 1,
                }
                self.stats.last_error = Some(e.to_string());
                self.generation += 1;
            }
        }
    }

    /// Forgets the run (its file was truncated or replaced), keeping the counters.
    pub fn reset(&mut self) {
        let mut stats = std::mem::take(&mut self.stats);
        stats.resets += 1;
        let source = self.source.take();
        let generation = self.generation + 1;
        *self = Self {
            stats,
            source,
            generation,
            ..Self::default()
        };
    }

    /// Ingests one event.
    pub fn ingest(&mut self, ev: Event) {
        self.stats.events += 1;
        self.generation += 1;
        match ev {
            Event::RunStart(s) => {
                match s.resumed_from {
                    // Resumed: drop what came after the checkpoint, it is being redone.
                    Some(from) => self.rewind_to(from + 1),
                    // A fresh run in the same directory replaces the old one.
                    None if self.last_step().is_some() => {
                        let (stats, source, g) =
                            (self.stats.clone(), self.source.clone(), self.generation);
                        *self = Self {
                            stats,
                            source,
                            generation: g,
                            ..Self::default()
                        };
                    }
                    None => {}
                }
                self.end = None;
                self.run = Some(RunInfo {
                    name: s.run,
                    total_steps: s.total_steps,
                    resumed_from: s.resumed_from,
                    started: s.time,
                    config: s.config,
                });
            }
            Event::Step(e) => {
                if self.last_step().is_some_and(|last| e.step <= last) {
                    // A restart without run_start (or duplicated lines): the new values win.
                    self.rewind_to(e.step);
                }
                for (k, v) in &e.metrics {
                    self.series
                        .entry(k.clone())
                        .or_default()
                        .push(e.step, v.unwrap_or(f64::NAN));
                }
                self.step_times.push(e.step, e.time);
                self.alarms.observe_step(e.step, &e.metrics);
            }
            Event::Alarm(a) => {
                let step = a.step.or(self.last_step()).unwrap_or(0);
                self.alarms.engine_alarm(step, &a.kind, &a.message);
            }
            Event::Sample(s) => self.samples.push(s),
            Event::Checkpoint(c) => self.last_checkpoint = Some((c.step, c.path)),
            Event::RunEnd(e) => self.end = Some(e),
        }
    }

    /// Drops every step ≥ `step` and rebuilds the alarm detectors from what remains.
    fn rewind_to(&mut self, step: u64) {
        for s in self.series.values_mut() {
            s.truncate_from(step);
        }
        self.series.retain(|_, s| !s.steps.is_empty());
        self.step_times.truncate_from(step);
        self.samples.retain(|s| s.step.is_none_or(|x| x < step));
        let engine: Vec<_> = self
            .alarms
            .alarms()
            .iter()
            .filter(|a| a.began < step && a.source != crate::alarms::AlarmSource::Viewer)
            .cloned()
            .collect();
        self.alarms = AlarmTracker::default();
        for (s, metrics) in self.step_records() {
            self.alarms.observe_step(s, &metrics);
        }
        for a in engine {
            let kind = match &a.kind {
                crate::alarms::AlarmKind::Other(k) => k.clone(),
                k => alarm_event_name(k).to_string(),
            };
            self.alarms.engine_alarm(a.began, &kind, &a.message);
        }
        self.end = None;
    }

    /// The steps in order with their metrics (rebuilt from the column store).
    pub fn step_records(&self) -> Vec<(u64, BTreeMap<String, Option<f64>>)> {
        let mut by_step: BTreeMap<u64, BTreeMap<String, Option<f64>>> = BTreeMap::new();
        for (k, s) in &self.series {
            for (&st, &v) in s.steps.iter().zip(&s.values) {
                by_step
                    .entry(st)
                    .or_default()
                    .insert(k.clone(), v.is_finite().then_some(v));
            }
        }
        by_step.into_iter().collect()
    }

    /// The last step seen.
    pub fn last_step(&self) -> Option<u64> {
        self.step_times.steps.last().copied()
    }

    /// Latest value of a metric (NaN if it was non-finite).
    pub fn latest(&self, key: &str) -> Option<f64> {
        self.series.get(key).and_then(Series::last)
    }

    /// Is there a discriminator? From the config, else from the metrics present.
    pub fn is_adversarial(&self) -> bool {
        let from_config = self.run.as_ref().and_then(|r| r.config.adversarial);
        from_config.unwrap_or_else(|| {
            ["d_loss", "d_real", "d_fake", "g_adv"]
                .iter()
                .any(|k| self.series.contains_key(*k))
        })
    }

    /// Progress, throughput and ETA.
    pub fn progress(&self) -> Progress {
        let step = self.last_step().unwrap_or(0);
        let total = self.run.as_ref().and_then(|r| r.total_steps);
        let secs_per_step = self.secs_per_step();
        let batch = self.run.as_ref().and_then(|r| r.config.batch_size);
        let images_per_sec = match (secs_per_step, batch) {
            (Some(t), Some(b)) if t > 0.0 => Some(b as f64 / t),
            _ => None,
        };
        let eta_secs = match (secs_per_step, total) {
            (Some(t), Some(n)) if self.end.is_none() => Some(n.saturating_sub(step) as f64 * t),
            _ => None,
        };
        Progress {
            step,
            total,
            secs_per_step,
            images_per_sec,
            eta_secs,
        }
    }

    fn secs_per_step(&self) -> Option<f64> {
        if let Some(s) = self.series.get("step_time_s") {
            let v: Vec<f64> = s
                .values
                .iter()
                .rev()
                .filter(|v| v.is_finite())
                .take(RATE_WINDOW)
                .copied()
                .collect();
            if !v.is_empty() {
                return Some(v.iter().sum::<f64>() / v.len() as f64);
            }
        }
        // Fall back to event timestamps.
        let t = &self.step_times;
        let n = t.steps.len();
        if n < 2 {
            return None;
        }
        let i = n.saturating_sub(RATE_WINDOW + 1);
        let (ds, dt) = (t.steps[n - 1] - t.steps[i], t.values[n - 1] - t.values[i]);
        (ds > 0 && dt > 0.0).then(|| dt / ds as f64)
    }
}

fn alarm_event_name(k: &crate::alarms::AlarmKind) -> &'static str {
    use crate::alarms::AlarmKind::*;
    match k {
        NonFinite => "non_finite",
        DCollapse => "d_collapse",
        DOverpowering => "d_overpowering",
        Divergence => "divergence",
        Other(_) => "other",
    }
}

/// Exponential moving average of a series (NaN values are skipped and stay NaN).
pub fn ema(values: &[f64], alpha: f64) -> Vec<f64> {
    let mut acc: Option<f64> = None;
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return f64::NAN;
            }
            let e = acc.map_or(v, |a| a + alpha * (v - a));
            acc = Some(e);
            e
        })
        .collect()
}
