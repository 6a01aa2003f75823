//! Table of every metric: latest value and its EMA, non-finite values in red.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Cell, Row, Table};

use super::{ViewOptions, fmt};
use crate::state::{DashboardState, ema};

/// Metric keys present in the state: the known ones in `adt_events::METRICS` order first.
pub fn keys(st: &DashboardState) -> Vec<&str> {
    let mut out: Vec<&str> = adt_events::metrics::names()
        .filter(|k| st.series.contains_key(*k))
        .collect();
    out.extend(
        st.series
            .keys()
            .map(String::as_str)
            .filter(|k| adt_events::metrics::info(k).is_none()),
    );
    out
}

pub fn render(frame: &mut Frame, area: Rect, st: &DashboardState, view: &ViewOptions) {
    let rows: Vec<Row> = keys(st)
        .into_iter()
        .map(|k| {
            let s = &st.series[k];
            let last = s.last().unwrap_or(f64::NAN);
            let e = ema(&s.values, view.ema_alpha)
                .into_iter()
                .rev()
                .find(|v| v.is_finite());
            let last_style = if last.is_finite() {
                Style::new()
            } else {
                Style::new().red().bold()
            };
            Row::new([
                Cell::from(k.to_string()).style(Style::new().cyan()),
                Cell::from(fmt::value(last)).style(last_style),
                Cell::from(fmt::opt(e)).style(Style::new().dim()),
            ])
        })
        .collect();
    let title = format!(" Metrics  last / EMA α={} ", view.ema_alpha);
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(9),
            Constraint::Length(9),
        ],
    )
    .column_spacing(1)
    .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}
