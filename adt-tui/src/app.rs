//! `adt-tui watch RUN_DIR`: the viewer that tails a run directory. Read-only, so it can
//! be started and quit from any SSH session while training runs headless, as often and
//! by as many viewers as wanted.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::crossterm::event::{
    self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};

use crate::image::{ImageMode, SampleImages};
use crate::plain::{PLAIN_INTERVAL, PlainPrinter};
use crate::state::DashboardState;
use crate::tail::Tailer;
use crate::terminal;
use crate::ui::{self, Page, ViewOptions};

/// Shortest time between two frames (≤ 10 Hz).
pub const MIN_FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Quit,
    /// Ctrl-C (the live renderer stops training on it; the viewer just quits).
    Interrupt,
}

/// The dashboard's model + view, independent of where events come from.
pub struct App {
    pub state: DashboardState,
    /// The state on screen while paused.
    frozen: Option<DashboardState>,
    pub view: ViewOptions,
    pub images: SampleImages,
    pub run_dir: Option<PathBuf>,
}

impl App {
    pub fn new(run_dir: Option<PathBuf>, images: SampleImages, window: usize) -> Self {
        let view = ViewOptions {
            recent: window,
            source_label: run_dir
                .as_ref()
                .map_or_else(String::new, |d| d.display().to_string()),
            ..ViewOptions::default()
        };
        Self {
            state: DashboardState::default(),
            frozen: None,
            view,
            images,
            run_dir,
        }
    }

    /// The state the widgets show (frozen while paused).
    pub fn shown(&self) -> &DashboardState {
        self.frozen.as_ref().unwrap_or(&self.state)
    }

    /// Applies a key; returns what the loop should do.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind != KeyEventKind::Press {
            return Action::Continue;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Interrupt;
        }
        let v = &mut self.view;
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc => v.help = false,
            KeyCode::Char('?') | KeyCode::Char('h') => v.help = !v.help,
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                v.paused = !v.paused;
                self.frozen = v.paused.then(|| self.state.clone());
            }
            KeyCode::Char('s') => v.smoothing = !v.smoothing,
            KeyCode::Char('z') => {
                v.window = if v.window.is_some() {
                    None
                } else {
                    Some(v.recent)
                }
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                v.recent = (v.recent * 2).min(1 << 24);
                v.window = Some(v.recent);
            }
            KeyCode::Char('-') => {
                v.recent = (v.recent / 2).max(10);
                v.window = Some(v.recent);
            }
            KeyCode::Tab => {
                v.page = if v.page == Page::Overview {
                    Page::Samples
                } else {
                    Page::Overview
                }
            }
            KeyCode::Char('1') => v.page = Page::Overview,
            KeyCode::Char('2') => v.page = Page::Samples,
            _ => {}
        }
        Action::Continue
    }

    /// Draws the dashboard (loads a newer sample image first).
    pub fn draw(&mut self, frame: &mut Frame) {
        let st = self.frozen.as_ref().unwrap_or(&self.state);
        self.images.sync(self.run_dir.as_deref(), st);
        ui::draw(frame, st, &self.view, &mut self.images);
    }
}

/// Options of `adt-tui watch`.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub run_dir: PathBuf,
    /// How often events.jsonl is polled.
    pub refresh: Duration,
    /// Steps in the recent (zoomed) window.
    pub window: usize,
    pub images: ImageMode,
    /// Force plain line output even on a terminal.
    pub plain: bool,
    /// Plain mode: print what is there and exit instead of following the file.
    pub once: bool,
}

/// Reads new lines into the state; returns whether anything changed.
pub fn pump(tailer: &mut Tailer, state: &mut DashboardState) -> bool {
    let got = tailer.poll();
    let status_changed = state.source.as_ref() != Some(tailer.status());
    if got.reset {
        state.reset();
    }
    for line in &got.lines {
        state.ingest_line(line);
    }
    if status_changed {
        state.source = Some(tailer.status().clone());
        state.generation += 1;
    }
    got.reset || !got.lines.is_empty() || status_changed
}

/// Runs the viewer until the user quits (TUI) or, in plain mode, forever / until the
/// run ends with `once`.
pub fn watch(opts: &WatchOptions) -> anyhow::Result<()> {
    if opts.plain || opts.once || !io::stdout().is_terminal() {
        return watch_plain(opts);
    }
    let picker = opts.images.picker();
    let mut app = App::new(
        Some(opts.run_dir.clone()),
        SampleImages::new(picker),
        opts.window,
    );
    let mut tailer = Tailer::new(&opts.run_dir);
    let (mut term, _guard) = terminal::enter()?;
    let mut dirty = true;
    let mut last_poll: Option<Instant> = None;
    let mut last_draw: Option<Instant> = None;
    loop {
        if last_poll.is_none_or(|t| t.elapsed() >= opts.refresh) {
            last_poll = Some(Instant::now());
            // Drain big histories in a few polls without starving the keyboard.
            for _ in 0..8 {
                if !pump(&mut tailer, &mut app.state) {
                    break;
                }
                dirty = !app.view.paused || dirty;
            }
            if matches!(tailer.status(), crate::tail::SourceStatus::Open { .. }) {
                // The newest sample file may appear after its event.
                dirty |= app
                    .images
                    .shown()
                    .is_some_and(|s| matches!(s.content, crate::image::Content::Failed(_)));
            }
        }
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= MIN_FRAME_INTERVAL) {
            term.draw(|f| app.draw(f))?;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        let wait = opts.refresh.min(MIN_FRAME_INTERVAL);
        if event::poll(wait)? {
            match event::read()? {
                TermEvent::Key(k) => match app.handle_key(k) {
                    Action::Continue => dirty = true,
                    Action::Quit | Action::Interrupt => break,
                },
                TermEvent::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
    drop(term);
    terminal::restore()?;
    Ok(())
}

fn watch_plain(opts: &WatchOptions) -> anyhow::Result<()> {
    let mut tailer = Tailer::new(&opts.run_dir);
    let mut state = DashboardState::default();
    let mut printer = PlainPrinter::new(PLAIN_INTERVAL);
    let mut out = io::stdout().lock();
    let mut waiting_said = false;
    loop {
        while pump(&mut tailer, &mut state) {}
        if state.source == Some(crate::tail::SourceStatus::NoDirectory) {
            if opts.once {
                anyhow::bail!("run directory {} does not exist", opts.run_dir.display());
            }
            if !waiting_said {
                use std::io::Write;
                writeln!(out, "waiting for {} to exist", opts.run_dir.display())?;
                waiting_said = true;
            }
        }
        printer.print(&state, &mut out, opts.once)?;
        if opts.once {
            return Ok(());
        }
        std::thread::sleep(opts.refresh);
    }
}

/// Renders one frame of the dashboard for `run_dir` as plain text (`adt-tui snapshot`,
/// README captures): the screen rows, trailing spaces trimmed.
pub fn snapshot(
    run_dir: &Path,
    width: u16,
    height: u16,
    page: Page,
    images: ImageMode,
) -> anyhow::Result<String> {
    let mut app = App::new(
        Some(run_dir.to_path_buf()),
        SampleImages::new(images.picker_offline()),
        500,
    );
    app.view.page = page;
    let mut tailer = Tailer::new(run_dir);
    while pump(&mut tailer, &mut app.state) {}
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))?;
    term.draw(|f| app.draw(f))?;
    Ok(buffer_text(term.backend().buffer()))
}

/// A buffer's symbols, one line per row, trailing spaces trimmed.
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
