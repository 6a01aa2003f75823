//! Progress reporting for long data passes (indexing, caching): an
//! `indicatif` bar on a terminal, plain periodic lines on stderr otherwise
//! (logs, CI), or nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

/// How progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always the bar.
    Bar,
    /// Plain lines on stderr every 5% or 10 s.
    Plain,
    /// Nothing.
    Silent,
}

/// A progress indicator for `len` items.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Mutex<PlainState>>,
    label: String,
    len: u64,
}

struct PlainState {
    done: u64,
    last_print: Instant,
    last_done: u64,
    start: Instant,
}

const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

impl Progress {
    /// Starts a progress indicator labelled `label`.
    pub fn new(label: &str, len: u64, mode: ProgressMode) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let (bar, plain) = match mode {
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{prefix} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
                )
                .expect("static progress template")
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(label.to_string());
                (Some(bar), None)
            }
            ProgressMode::Plain => {
                let now = Instant::now();
                let state = PlainState {
                    done: 0,
                    last_print: now,
                    last_done: 0,
                    start: now,
                };
                (None, Some(Mutex::new(state)))
            }
            _ => (None, None),
        };
        Self {
            bar,
            plain,
            label: label.to_string(),
            len,
        }
    }

    /// Marks `n` more items done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(plain) = &self.plain {
            let mut s = plain.lock().unwrap_or_else(|e| e.into_inner());
            s.done += n;
            let step = (self.len / 20).max(1);
            if s.done - s.last_done >= step || s.last_print.elapsed() >= PLAIN_INTERVAL {
                eprintln!(
                    "{}: {}/{} ({:.0}s)",
                    self.label,
                    s.done,
                    self.len,
                    s.start.elapsed().as_secs_f64()
                );
                s.last_print = Instant::now();
                s.last_done = s.done;
            }
        }
    }

    /// Ends the indicator.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if let Some(plain) = &self.plain {
            let s = plain.lock().unwrap_or_else(|e| e.into_inner());
            if s.last_done != s.done || s.done == 0 {
                eprintln!(
                    "{}: {}/{} done ({:.1}s)",
                    self.label,
                    s.done,
                    self.len,
                    s.start.elapsed().as_secs_f64()
                );
            }
        }
    }
}
