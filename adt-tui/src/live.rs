//! Live mode: a burn-train [`MetricsRenderer`] that draws the ADT dashboard while the
//! training runs in the same process. Pass it with
//! `SupervisedTraining::renderer(Box::new(AdtRenderer::new(opts)))`.
//!
//! Metrics arrive through `update_train` under the names of `docs/run-directory.md`
//! (`g_adv`, `l_diff`, …); all of one processed item form one step (committed on burn's
//! per-item "Iteration" progress event). When `run_dir` is given, the run directory's
//! `events.jsonl` supplies everything else (run_start config, samples, alarms, checkpoints,
//! run_end); its `step` lines are ignored since the same values come through the renderer.
//! A `log_event_training` string that is itself an `events.jsonl` line is ingested too.
//!
//! The dashboard lives on its own thread, redraws at most every 100 ms, restores the
//! terminal on panic, and prints plain lines instead when stdout is not a terminal.
//! Keys: `q` detaches the dashboard (training continues with plain lines); Ctrl-C asks
//! the [`Interrupter`] to stop the training, a second Ctrl-C exits at once (status 130).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{Interrupter, LearnerSummary};
use ratatui::crossterm::event::{self, Event as TermEvent};

use crate::app::{Action, App, MIN_FRAME_INTERVAL};
use crate::events::{Event, StepEvent, parse_line};
use crate::image::{ImageMode, SampleImages};
use crate::plain::{PLAIN_INTERVAL, PlainPrinter};
use crate::tail::Tailer;
use crate::terminal;

/// How often the run directory is re-read in live mode.
pub const LIVE_TAIL_INTERVAL: Duration = Duration::from_millis(500);

/// Options of the live renderer.
#[derive(Clone)]
pub struct LiveOptions {
    /// The run directory the engine writes (for config, samples, alarms).
    pub run_dir: Option<PathBuf>,
    /// Stopped on Ctrl-C.
    pub interrupter: Option<Interrupter>,
    pub images: ImageMode,
    /// `Some(true)`: plain lines even on a terminal; `None`: decide from stdout.
    pub plain: Option<bool>,
    /// Steps in the recent (zoomed) window.
    pub window: usize,
    /// Interval between plain progress lines.
    pub plain_interval: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            run_dir: None,
            interrupter: None,
            images: ImageMode::Auto,
            plain: None,
            window: crate::ui::DEFAULT_WINDOW,
            plain_interval: PLAIN_INTERVAL,
        }
    }
}

enum Msg {
    Step(BTreeMap<String, Option<f64>>, f64),
    Event(Box<Event>),
    Summary(String),
    Close { wait_for_user: bool },
}

/// The live dashboard renderer.
pub struct AdtRenderer {
    tx: Sender<Msg>,
    handle: Option<JoinHandle<()>>,
    names: HashMap<MetricId, String>,
    pending: BTreeMap<String, Option<f64>>,
}

impl AdtRenderer {
    /// Starts the dashboard thread.
    pub fn new(opts: LiveOptions) -> Self {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("adt-tui".into())
            .spawn(move || {
                if let Err(e) = run(rx, opts) {
                    let _ = terminal::restore();
                    eprintln!("adt-tui: dashboard stopped: {e}");
                }
            })
            .expect("spawn the dashboard thread");
        Self {
            tx,
            handle: Some(handle),
            names: HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    fn commit(&mut self) {
        if !self.pending.is_empty() {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let _ = self
                .tx
                .send(Msg::Step(std::mem::take(&mut self.pending), now));
        }
    }

    fn close(&mut self, wait_for_user: bool) {
        self.commit();
        let _ = self.tx.send(Msg::Close { wait_for_user });
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for AdtRenderer {
    fn drop(&mut self) {
        self.close(false);
    }
}

/// The value of a numeric update: a batch value or an aggregate; epoch-final values and
/// empty ticks carry no per-step point.
fn numeric_value(entry: &Option<NumericEntry>) -> Option<f64> {
    match entry {
        Some(NumericEntry::Value(v)) => Some(*v),
        Some(NumericEntry::Aggregated {
            aggregated_value, ..
        }) => Some(*aggregated_value),
        Some(NumericEntry::Final(_)) | None => None,
    }
}

impl MetricsRendererTraining for AdtRenderer {
    fn update_train(&mut self, state: MetricState) {
        let MetricState::Numeric(entry, value) = state else {
            return;
        };
        let Some(v) = numeric_value(&value) else {
            return;
        };
        let Some(name) = self.names.get(&entry.metric_id).cloned() else {
            return;
        };
        if self.pending.contains_key(&name) {
            // Same metric again without an item boundary: a new step began.
            self.commit();
        }
        self.pending.insert(name, Some(v).filter(|v| v.is_finite()));
    }

    fn update_valid(&mut self, _state: MetricState) {}

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.commit();
        if let Some(s) = summary {
            let _ = self.tx.send(Msg::Summary(s.to_string()));
        }
        Ok(())
    }
}

impl MetricsRendererEvaluation for AdtRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for AdtRenderer {
    /// Keeps the dashboard on screen until the user presses `q`.
    fn manual_close(&mut self) {
        self.close(true);
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}

impl TrainingProgressLogger for AdtRenderer {
    fn start(
        &mut self,
        _epochs: usize,
        _start: usize,
        _items: Option<usize>,
        _label: Option<&str>,
    ) {
    }
    fn update_epoch(&mut self, _epoch: usize) {}
    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {
        self.commit();
    }
    fn end(&mut self) {
        self.commit();
    }
    fn log_event_training(&mut self, event: String) {
        if event == "Iteration" {
            self.commit();
        } else if let Ok(ev) = parse_line(&event) {
            let _ = self.tx.send(Msg::Event(Box::new(ev)));
        }
    }
}

impl EvaluationProgressLogger for AdtRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

/// Applies one message to the app; `Some(wait)` when it asks to close.
fn apply(app: &mut App, msg: Msg, summary: &mut Option<String>) -> Option<bool> {
    match msg {
        Msg::Step(metrics, time) => {
            let st = &app.state;
            let base = st
                .last_step()
                .or(st.run.as_ref().and_then(|r| r.resumed_from))
                .unwrap_or(0);
            app.state.ingest(Event::Step(StepEvent {
                time,
                step: base + 1,
                metrics,
            }));
        }
        Msg::Event(e) => app.state.ingest(*e),
        Msg::Summary(s) => *summary = Some(s),
        Msg::Close { wait_for_user } => return Some(wait_for_user),
    }
    None
}

/// Non-step events from the run directory.
fn pump_dir(tailer: &mut Tailer, app: &mut App) -> bool {
    let got = tailer.poll();
    let mut changed = false;
    for line in got.lines {
        match parse_line(&line) {
            Ok(Event::Step(_)) => {}
            Ok(e) => {
                app.state.ingest(e);
                changed = true;
            }
            Err(_) => app.state.ingest_line(&line),
        }
    }
    changed
}

fn run(rx: Receiver<Msg>, opts: LiveOptions) -> io::Result<()> {
    let mut tui = !opts.plain.unwrap_or(!io::stdout().is_terminal());
    let picker = if tui { opts.images.picker() } else { None };
    let mut app = App::new(opts.run_dir.clone(), SampleImages::new(picker), opts.window);
    app.view.source_label = "live".into();
    let mut tailer = opts.run_dir.as_ref().map(Tailer::new);
    let mut printer = PlainPrinter::new(opts.plain_interval);
    let mut term = if tui { Some(terminal::enter()?) } else { None };
    let (mut last_tail, mut last_draw): (Option<Instant>, Option<Instant>) = (None, None);
    let (mut dirty, mut summary, mut stopping) = (true, None, false);
    let mut closing: Option<bool> = None;
    while closing.is_none() {
        match rx.recv_timeout(MIN_FRAME_INTERVAL) {
            Ok(msg) => {
                closing = apply(&mut app, msg, &mut summary);
                // Drain what is queued so a burst costs one frame.
                while closing.is_none() {
                    match rx.try_recv() {
                        Ok(msg) => closing = apply(&mut app, msg, &mut summary),
                        Err(_) => break,
                    }
                }
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => closing = Some(false),
        }
        if let Some(t) = tailer.as_mut()
            && last_tail.is_none_or(|x| x.elapsed() >= LIVE_TAIL_INTERVAL)
        {
            last_tail = Some(Instant::now());
            dirty |= pump_dir(t, &mut app);
        }
        if let Some((terminal_, _)) = term.as_mut() {
            if dirty && last_draw.is_none_or(|x| x.elapsed() >= MIN_FRAME_INTERVAL) {
                terminal_.draw(|f| app.draw(f))?;
                last_draw = Some(Instant::now());
                dirty = false;
            }
            while event::poll(Duration::ZERO)? {
                if let TermEvent::Key(k) = event::read()? {
                    match app.handle_key(k) {
                        Action::Continue => dirty = true,
                        Action::Quit => tui = false,
                        Action::Interrupt => match (&opts.interrupter, stopping) {
                            (Some(i), false) => {
                                i.stop(Some("stopped from the dashboard (Ctrl-C)"));
                                stopping = true;
                                app.view.notice = Some(
                                    "stopping after this step — Ctrl-C again to exit now".into(),
                                );
                                dirty = true;
                            }
                            _ => {
                                drop(term.take());
                                terminal::restore()?;
                                eprintln!("adt-tui: interrupted");
                                std::process::exit(130);
                            }
                        },
                    }
                }
            }
            if !tui {
                // Detach: give the terminal back, go on with plain lines.
                term = None;
                terminal::restore()?;
                println!("adt-tui: dashboard detached; training continues");
            }
        } else {
            printer.print(&app.state, &mut io::stdout(), false)?;
        }
    }
    if let (Some((terminal_, _)), Some(true)) = (term.as_mut(), closing) {
        app.view.notice = Some("training done — press q to close".into());
        loop {
            terminal_.draw(|f| app.draw(f))?;
            if event::poll(MIN_FRAME_INTERVAL)?
                && let TermEvent::Key(k) = event::read()?
                && matches!(app.handle_key(k), Action::Quit | Action::Interrupt)
            {
                break;
            }
        }
    }
    let was_tui = term.is_some();
    drop(term);
    terminal::restore()?;
    if !was_tui {
        printer.print(&app.state, &mut io::stdout(), true)?;
    }
    if let Some(s) = summary {
        let mut out = io::stdout();
        writeln!(out, "{s}")?;
    }
    Ok(())
}
