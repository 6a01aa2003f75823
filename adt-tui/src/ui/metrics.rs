//! Table of every metric: latest value and its EMA, non-finite values in red.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Cell, Row, Table};

use super::{ViewOptions, fmt};
use crate::state::{DashboardState, ema};

/// Display order of the known metrics (docs/run-directory.md); others follow by name.
pub const ORDER: [&str; 13] = [
    "g_adv",
    "l_diff",
    "g_total",
    "d_loss",
    "d_real",
    "d_fake",
    "d_acc",
    "r1",
    "g_grad_norm",
    "d_grad_norm",
    "lr_g",
    "lr_d",
    "step_time_s",
];

/// Metric keys present in the state, known ones first.
pub fn keys(st: &DashboardState) -> Vec<&str> {
    let mut out: Vec<&str> = ORDER
        .iter()
        .copied()
        .filter(|k| st.series.contains_key(*k))
        .collect();
    out.extend(
        st.series
            .keys()
            .map(String::as_str)
            .filter(|k| !ORDER.contains(k)),
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
