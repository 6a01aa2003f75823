//! Bottom line: key hints, view state, reader statistics (skipped lines, bytes read).

use ratatui::prelude::*;
use ratatui::widgets::Paragraph;

use super::{ViewOptions, fmt};
use crate::state::DashboardState;
use crate::tail::SourceStatus;

pub fn render(frame: &mut Frame, area: Rect, st: &DashboardState, view: &ViewOptions) {
    let key = |k: &'static str| Span::styled(k, Style::new().black().on_gray());
    let zoom = match view.window {
        Some(n) => format!("last {n}"),
        None => "full".into(),
    };
    let spans = vec![
        key("q"),
        Span::raw(" quit "),
        key("p"),
        Span::raw(if view.paused { " resume " } else { " pause " }),
        key("s"),
        Span::raw(format!(
            " ema:{} ",
            if view.smoothing { "on" } else { "off" }
        )),
        key("z"),
        Span::raw(format!(" {zoom} ")),
        key("tab"),
        Span::raw(" page "),
        key("?"),
        Span::raw(" help "),
    ];
    // Reader statistics on the right; key hints give way first when space is short.
    let mut right = Vec::new();
    if st.stats.malformed + st.stats.foreign > 0 {
        right.push(Span::styled(
            format!(
                "skipped {} bad, {} foreign ",
                st.stats.malformed, st.stats.foreign
            ),
            Style::new().yellow(),
        ));
    }
    if let Some(SourceStatus::Open { bytes, pending }) = &st.source {
        let mut s = fmt::bytes(*bytes);
        if *pending > 0 {
            s += &format!(" (+{pending} B partial)");
        }
        right.push(Span::styled(s, Style::new().dim()));
    }
    let right = Line::from(right);
    let w = (right.width() as u16).min(area.width);
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(w)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), l);
    frame.render_widget(Paragraph::new(right).right_aligned(), r);
}
