//! A time-series chart of a few metrics on one step axis, with optional EMA smoothing
//! and a zoom window shared by every chart on screen.

use ratatui::prelude::*;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use super::{ViewOptions, fmt};
use crate::state::{DashboardState, ema};

/// One curve of a chart.
#[derive(Debug, Clone, Copy)]
pub struct Trace {
    pub key: &'static str,
    pub label: &'static str,
    pub color: Color,
}

/// Shorthand constructor.
pub const fn trace(key: &'static str, label: &'static str, color: Color) -> Trace {
    Trace { key, label, color }
}

/// The x range every chart uses: the zoom window ending at the last step, or everything.
pub fn x_range(st: &DashboardState, view: &ViewOptions) -> (f64, f64) {
    let first = st.step_times.steps.first().copied().unwrap_or(0) as f64;
    let last = st.last_step().unwrap_or(1) as f64;
    let lo = match view.window {
        Some(n) => (last - n as f64).max(first),
        None => first,
    };
    (lo, last.max(lo + 1.0))
}

/// Renders `lines` (only those present in the state) with `extra` appended to the title.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    st: &DashboardState,
    view: &ViewOptions,
    title: &str,
    lines: &[Trace],
    extra: Vec<Span<'static>>,
) {
    let present: Vec<&Trace> = lines
        .iter()
        .filter(|l| st.series.contains_key(l.key))
        .collect();
    // Derived values (margin, accuracy) first: they matter most when the title is cut.
    let mut title_spans = vec![Span::styled(format!(" {title} "), Style::new().bold())];
    title_spans.extend(extra);
    for l in &present {
        let v = st.latest(l.key).unwrap_or(f64::NAN);
        let style = if v.is_finite() {
            Style::new().fg(l.color)
        } else {
            Style::new().red().bold()
        };
        title_spans.push(Span::styled(
            format!("{} {} ", l.label, fmt::value(v)),
            style,
        ));
    }
    let block = Block::bordered().title(Line::from(title_spans));
    if present.is_empty() {
        let p = Paragraph::new(Span::styled("no data yet", Style::new().dim())).block(block);
        frame.render_widget(p, area);
        return;
    }
    let (x0, x1) = x_range(st, view);
    // Two braille dots per cell: more points than that are invisible.
    let max_points = (area.width.saturating_sub(10) as usize * 2).max(16);
    let data: Vec<Vec<(f64, f64)>> = present
        .iter()
        .map(|l| points(st, l.key, view, x0, max_points))
        .collect();
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in data.iter().flatten() {
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = if y1 > y0 {
        (y1 - y0) * 0.05
    } else {
        y0.abs().max(1.0) * 0.1
    };
    let (y0, y1) = (y0 - pad, y1 + pad);
    let datasets = present
        .iter()
        .zip(&data)
        .map(|(l, d)| {
            Dataset::default()
                .name(l.label)
                .marker(symbols::Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(l.color))
                .data(d)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .style(Style::new().dark_gray())
                .labels([format!("{x0:.0}"), format!("{x1:.0}")]),
        )
        .y_axis(
            Axis::default()
                .bounds([y0, y1])
                .style(Style::new().dark_gray())
                .labels([fmt::value(y0), fmt::value(y1)]),
        );
    frame.render_widget(chart, area);
}

/// Visible, finite, optionally smoothed points of one metric, thinned to `max_points`
/// by averaging buckets (the last point is always kept).
fn points(
    st: &DashboardState,
    key: &str,
    view: &ViewOptions,
    x0: f64,
    max_points: usize,
) -> Vec<(f64, f64)> {
    let s = &st.series[key];
    let smoothed;
    let values: &[f64] = if view.smoothing {
        smoothed = ema(&s.values, view.ema_alpha);
        &smoothed
    } else {
        &s.values
    };
    let start = s.steps.partition_point(|&x| (x as f64) < x0);
    let pts: Vec<(f64, f64)> = s.steps[start..]
        .iter()
        .zip(&values[start..])
        .filter(|(_, v)| v.is_finite())
        .map(|(&x, &y)| (x as f64, y))
        .collect();
    if pts.len() <= max_points {
        return pts;
    }
    let per = pts.len().div_ceil(max_points);
    let mut out: Vec<(f64, f64)> = pts
        .chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect();
    out.push(*pts.last().expect("non-empty"));
    out
}
