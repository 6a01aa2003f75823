//! Alarm list: kind, the step where it began, the last step seen, and the message.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::alarms::AlarmSource;
use crate::state::DashboardState;

pub fn render(frame: &mut Frame, area: Rect, st: &DashboardState) {
    let now = st.last_step().unwrap_or(0);
    let alarms = st.alarms.alarms();
    let active = alarms.iter().filter(|a| a.active_at(now)).count();
    let mut lines: Vec<Line> = alarms
        .iter()
        .rev()
        .flat_map(|a| {
            let on = a.active_at(now);
            let (mark, style) = if on {
                ("●", Style::new().red().bold())
            } else {
                ("○", Style::new().dark_gray())
            };
            let src = match a.source {
                AlarmSource::Engine => "engine",
                AlarmSource::Viewer => "viewer",
                AlarmSource::Both => "engine+viewer",
            };
            let span = if a.last > a.began {
                format!("{}–{}", a.began, a.last)
            } else {
                a.began.to_string()
            };
            vec![
                Line::from(vec![
                    Span::styled(format!("{mark} {} ", a.kind.label()), style),
                    Span::styled(format!("step {span} "), Style::new().yellow()),
                    Span::styled(format!("({src})"), Style::new().dim()),
                ]),
                Line::from(Span::styled(format!("  {}", a.message), Style::new().dim())),
            ]
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "✓ no alarms",
            Style::new().green(),
        )));
    }
    let title = if active > 0 {
        Line::from(Span::styled(
            format!(" Alarms ({active} active) "),
            Style::new().red().bold(),
        ))
    } else {
        Line::from(" Alarms ")
    };
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(title));
    frame.render_widget(p, area);
}
