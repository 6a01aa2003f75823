//! The dashboard: one widget per file, laid out for the terminal size. Compact layout
//! (below [`LARGE_WIDTH`]×[`LARGE_HEIGHT`], e.g. 80×24): three charts, the metric table
//! and the alarms, with samples and config on page 2. Large layout: six charts, sample,
//! metrics, alarms and config on one screen.

pub mod alarms;
pub mod chart;
pub mod config;
pub mod fmt;
pub mod footer;
pub mod header;
pub mod help;
pub mod metrics;
pub mod samples;

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::image::SampleImages;
use crate::state::DashboardState;
use crate::tail::SourceStatus;
use chart::{Trace, trace};

/// At or above this width *and* [`LARGE_HEIGHT`], everything fits on one page.
pub const LARGE_WIDTH: u16 = 150;
pub const LARGE_HEIGHT: u16 = 40;
/// Default zoom window (steps) of the "recent" view.
pub const DEFAULT_WINDOW: usize = 500;
/// Default EMA coefficient of the smoothed curves.
pub const DEFAULT_EMA_ALPHA: f64 = 0.1;

/// Which page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Overview,
    Samples,
}

/// View settings the keyboard changes.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    pub smoothing: bool,
    pub ema_alpha: f64,
    /// `Some(n)`: the last n steps; `None`: full history.
    pub window: Option<usize>,
    /// The size of the recent window when zoomed in.
    pub recent: usize,
    pub paused: bool,
    pub help: bool,
    pub page: Page,
    /// What is watched (the run directory), shown until `run_start` names the run.
    pub source_label: String,
    /// A one-line notice in the header (e.g. "stopping after this step").
    pub notice: Option<String>,
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            smoothing: false,
            ema_alpha: DEFAULT_EMA_ALPHA,
            window: None,
            recent: DEFAULT_WINDOW,
            paused: false,
            help: false,
            page: Page::Overview,
            source_label: String::new(),
            notice: None,
        }
    }
}

const G_ADV: Trace = trace("g_adv", "G adv", Color::Magenta);
const D_LOSS: Trace = trace("d_loss", "D", Color::Yellow);
const R1: Trace = trace("r1", "R1", Color::Blue);
const L_DIFF: Trace = trace("l_diff", "L_diff", Color::Cyan);
const G_TOTAL: Trace = trace("g_total", "G total", Color::White);
const D_REAL: Trace = trace("d_real", "D(real)", Color::Green);
const D_FAKE: Trace = trace("d_fake", "D(fake)", Color::Red);
const G_GRAD: Trace = trace("g_grad_norm", "|∇G|", Color::Magenta);
const D_GRAD: Trace = trace("d_grad_norm", "|∇D|", Color::Yellow);
const LR_G: Trace = trace("lr_g", "lr G", Color::Magenta);
const LR_D: Trace = trace("lr_d", "lr D", Color::Yellow);
const STEP_TIME: Trace = trace("step_time_s", "s/step", Color::Gray);

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, st: &DashboardState, view: &ViewOptions, images: &mut SampleImages) {
    let area = frame.area();
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, head, st, view);
    footer::render(frame, foot, st, view);
    if st.last_step().is_none() && st.run.is_none() {
        waiting(frame, body, st, view);
    } else if area.width >= LARGE_WIDTH && area.height >= LARGE_HEIGHT {
        large(frame, body, st, view, images);
    } else if view.page == Page::Samples {
        samples_page(frame, body, st, images);
    } else {
        compact(frame, body, st, view);
    }
    if view.help {
        help::render(frame, area);
    }
}

fn waiting(frame: &mut Frame, area: Rect, st: &DashboardState, view: &ViewOptions) {
    let what = match &st.source {
        Some(SourceStatus::NoDirectory) => "the run directory does not exist yet — waiting for it",
        Some(SourceStatus::NoEventsFile) => "no events.jsonl yet — waiting for the run to start",
        Some(SourceStatus::Unreadable(_)) => "events.jsonl cannot be read — retrying",
        _ => "waiting for the first event",
    };
    let lines = vec![
        Line::from(Span::styled(view.source_label.clone(), Style::new().bold())),
        Line::from(Span::styled(what, Style::new().yellow())),
    ];
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered());
    frame.render_widget(p, area);
}

/// The D(real)/D(fake) chart's extra title: margin and sign accuracy.
fn d_extra(st: &DashboardState) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    if let (Some(r), Some(f)) = (st.latest("d_real"), st.latest("d_fake")) {
        out.push(Span::styled(
            format!("margin {} ", fmt::value(r - f)),
            Style::new().bold(),
        ));
    }
    if let Some(a) = st.latest("d_acc") {
        out.push(Span::styled(
            format!("acc {} ", fmt::value(a)),
            Style::new().bold(),
        ));
    }
    out
}

/// The charts to draw, in priority order, with what this run has.
fn charts(st: &DashboardState) -> Vec<(&'static str, Vec<Trace>)> {
    let mut out = Vec::new();
    if st.is_adversarial() {
        out.push(("Losses", vec![G_ADV, D_LOSS, R1]));
        out.push(("D logits", vec![D_REAL, D_FAKE]));
        out.push(("Diffusion", vec![L_DIFF]));
        out.push(("Grad norm", vec![G_GRAD, D_GRAD]));
        out.push(("LR", vec![LR_G, LR_D]));
        out.push(("Step time", vec![STEP_TIME]));
    } else {
        out.push(("Diffusion", vec![L_DIFF, G_TOTAL]));
        out.push(("Grad norm", vec![G_GRAD]));
        out.push(("LR", vec![LR_G]));
        out.push(("Step time", vec![STEP_TIME]));
    }
    out
}

fn render_chart(
    frame: &mut Frame,
    area: Rect,
    st: &DashboardState,
    view: &ViewOptions,
    c: &(&str, Vec<Trace>),
) {
    let extra = if c.0 == "D logits" {
        d_extra(st)
    } else {
        Vec::new()
    };
    chart::render(frame, area, st, view, c.0, &c.1, extra);
}

fn compact(frame: &mut Frame, area: Rect, st: &DashboardState, view: &ViewOptions) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let all = charts(st);
    let n = 3.min(all.len());
    let rows = Layout::vertical(vec![Constraint::Ratio(1, n as u32); n]).split(left);
    for (c, r) in all.iter().zip(rows.iter()) {
        render_chart(frame, *r, st, view, c);
    }
    let table_h = metrics::keys(st).len() as u16 + 2;
    let [m, a] = Layout::vertical([Constraint::Max(table_h), Constraint::Min(4)]).areas(right);
    metrics::render(frame, m, st, view);
    alarms::render(frame, a, st);
}

fn samples_page(frame: &mut Frame, area: Rect, st: &DashboardState, images: &mut SampleImages) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    samples::render(frame, left, images);
    let [c, a] = Layout::vertical([Constraint::Length(10), Constraint::Min(3)]).areas(right);
    config::render(frame, c, st);
    alarms::render(frame, a, st);
}

fn large(
    frame: &mut Frame,
    area: Rect,
    st: &DashboardState,
    view: &ViewOptions,
    images: &mut SampleImages,
) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(64), Constraint::Percentage(36)]).areas(area);
    let all = charts(st);
    let rows_n = all.len().div_ceil(2);
    let rows = Layout::vertical(vec![Constraint::Ratio(1, rows_n as u32); rows_n]).split(left);
    for (i, row) in rows.iter().enumerate() {
        let cols = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(*row);
        for (j, col) in cols.iter().enumerate() {
            if let Some(c) = all.get(i * 2 + j) {
                render_chart(frame, *col, st, view, c);
            }
        }
    }
    let table_h = (metrics::keys(st).len() as u16 + 2).max(10);
    let [s, row, a] = Layout::vertical([
        Constraint::Percentage(45),
        Constraint::Length(table_h),
        Constraint::Min(4),
    ])
    .areas(right);
    samples::render(frame, s, images);
    let [m, c] = Layout::horizontal([Constraint::Length(34), Constraint::Min(20)]).areas(row);
    metrics::render(frame, m, st, view);
    config::render(frame, c, st);
    alarms::render(frame, a, st);
}
