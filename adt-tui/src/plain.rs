//! Plain line output for when stdout is not a terminal (logs, pipes, `nohup`): the run's
//! config once, a progress line at most every interval, and every alarm, sample,
//! checkpoint and end as it happens.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::alarms::Alarm;
use crate::state::DashboardState;
use crate::ui::{fmt, metrics};

/// Default interval between progress lines.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// Remembers what was printed.
#[derive(Debug)]
pub struct PlainPrinter {
    every: Duration,
    last_line: Option<Instant>,
    printed_step: Option<u64>,
    run_printed: bool,
    alarms: usize,
    samples: usize,
    checkpoint: Option<String>,
    ended: bool,
    resets: u64,
}

impl PlainPrinter {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last_line: None,
            printed_step: None,
            run_printed: false,
            alarms: 0,
            samples: 0,
            checkpoint: None,
            ended: false,
            resets: 0,
        }
    }

    /// Prints what is new; `force` prints the progress line regardless of the interval.
    pub fn print(
        &mut self,
        st: &DashboardState,
        out: &mut impl Write,
        force: bool,
    ) -> io::Result<()> {
        if st.stats.resets != self.resets {
            *self = Self {
                resets: st.stats.resets,
                ..Self::new(self.every)
            };
            writeln!(
                out,
                "events.jsonl was truncated or replaced: reading it again"
            )?;
        }
        if let (false, Some(r)) = (self.run_printed, &st.run) {
            let c = &r.config;
            let n = |v: Option<u64>| v.map_or_else(|| "–".into(), |x| x.to_string());
            writeln!(
                out,
                "run {}: model={} sampler={} m={} K={} lambda_diff={} lambda_adv={} lr_g={} lr_d={} batch={} total_steps={}{}",
                r.name,
                c.model.as_deref().unwrap_or("–"),
                c.sampler.as_deref().unwrap_or("–"),
                n(c.m),
                n(c.k),
                fmt::opt(c.lambda_diff),
                fmt::opt(c.lambda_adv),
                fmt::opt(c.lr_g),
                fmt::opt(c.lr_d),
                n(c.batch_size),
                n(r.total_steps),
                r.resumed_from
                    .map_or_else(String::new, |s| format!(" (resumed from step {s})")),
            )?;
            self.run_printed = true;
        }
        let step = st.last_step();
        let due = self.last_line.is_none_or(|t| t.elapsed() >= self.every) || force;
        if step.is_some() && step != self.printed_step && due {
            writeln!(out, "{}", progress_line(st))?;
            self.printed_step = step;
            self.last_line = Some(Instant::now());
        }
        for a in st.alarms.alarms().iter().skip(self.alarms) {
            writeln!(out, "{}", alarm_line(a))?;
        }
        self.alarms = st.alarms.alarms().len();
        for s in st.samples.iter().skip(self.samples) {
            let at = s.step.map_or_else(String::new, |x| format!(" at step {x}"));
            writeln!(out, "sample{at}: {}", s.path)?;
        }
        self.samples = st.samples.len();
        if let Some((_, path)) = &st.last_checkpoint
            && self.checkpoint.as_ref() != Some(path)
        {
            writeln!(out, "checkpoint: {path}")?;
            self.checkpoint = Some(path.clone());
        }
        if let (false, Some(end)) = (self.ended, &st.end) {
            if step != self.printed_step {
                writeln!(out, "{}", progress_line(st))?;
                self.printed_step = step;
            }
            let msg = end
                .message
                .as_deref()
                .map_or_else(String::new, |m| format!(": {m}"));
            writeln!(out, "run {} at step {}{msg}", end.status, step.unwrap_or(0))?;
            self.ended = true;
        }
        out.flush()
    }
}

/// `step 120/1000  g_adv=0.6100 l_diff=0.0831 …  0.5200 s/step  ETA 7m36s`.
pub fn progress_line(st: &DashboardState) -> String {
    let p = st.progress();
    let mut s = match p.total {
        Some(n) => format!("step {}/{}", p.step, n),
        None => format!("step {}", p.step),
    };
    s.push(' ');
    for k in metrics::keys(st) {
        if k == "step_time_s" || k.starts_with("lr_") {
            continue;
        }
        s += &format!(" {k}={}", fmt::value(st.latest(k).unwrap_or(f64::NAN)));
    }
    if let Some(t) = p.secs_per_step {
        s += &format!("  {} s/step", fmt::value(t));
    }
    if let Some(eta) = p.eta_secs {
        s += &format!("  ETA {}", fmt::duration(eta));
    }
    s
}

fn alarm_line(a: &Alarm) -> String {
    format!(
        "ALARM {} began at step {}: {}",
        a.kind.label(),
        a.began,
        a.message
    )
}
