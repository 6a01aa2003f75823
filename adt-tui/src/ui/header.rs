//! Top two lines: run identity and status; progress gauge with throughput and ETA.

use ratatui::prelude::*;
use ratatui::widgets::{LineGauge, Paragraph};

use super::{ViewOptions, fmt};
use crate::events::RunStatus;
use crate::state::DashboardState;
use crate::tail::SourceStatus;

/// Renders the header into a 2-line area.
pub fn render(frame: &mut Frame, area: Rect, st: &DashboardState, view: &ViewOptions) {
    let [top, gauge] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let (status, colour) = status(st);
    let mut spans = vec![
        Span::styled(" ADT ", Style::new().bold().black().on_cyan()),
        Span::raw(" "),
        Span::styled(
            st.run
                .as_ref()
                .map_or_else(|| view.source_label.clone(), |r| r.name.clone()),
            Style::new().bold(),
        ),
    ];
    if let Some(model) = st.run.as_ref().and_then(|r| r.config.model.as_deref()) {
        spans.push(Span::styled(format!("  {model}"), Style::new().dim()));
    }
    if !st.is_adversarial() && st.run.is_some() {
        spans.push(Span::styled("  diffusion fine-tune", Style::new().dim()));
    }
    spans.push(Span::raw("  "));
    spans.push(Span::styled(
        format!("● {status}"),
        Style::new().fg(colour).bold(),
    ));
    if view.paused {
        spans.push(Span::styled(
            "  ⏸ PAUSED",
            Style::new().black().on_yellow().bold(),
        ));
    }
    if let Some(n) = &view.notice {
        spans.push(Span::styled(
            format!("  {n}"),
            Style::new().black().on_yellow(),
        ));
    }
    let active = st
        .alarms
        .alarms()
        .iter()
        .filter(|a| a.active_at(st.last_step().unwrap_or(0)))
        .count();
    if active > 0 {
        spans.push(Span::styled(
            format!("  ⚠ {active} alarm(s)"),
            Style::new().white().on_red().bold(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), top);

    let p = st.progress();
    let ratio = match p.total {
        Some(n) if n > 0 => (p.step as f64 / n as f64).clamp(0.0, 1.0),
        _ => 0.0,
    };
    let mut label = match p.total {
        Some(n) => format!("step {}/{} {:>3.0}%", p.step, n, ratio * 100.0),
        None => format!("step {}", p.step),
    };
    if let Some(t) = p.secs_per_step {
        label += &format!("  {} s/step", fmt::value(t));
    }
    if let Some(ips) = p.images_per_sec {
        label += &format!("  {ips:.1} img/s");
    }
    if let Some(eta) = p.eta_secs {
        label += &format!("  ETA {}", fmt::duration(eta));
    }
    let g = LineGauge::default()
        .ratio(ratio)
        .label(label)
        .filled_style(Style::new().cyan())
        .unfilled_style(Style::new().dark_gray());
    frame.render_widget(g, gauge);
}

fn status(st: &DashboardState) -> (String, Color) {
    if let Some(end) = &st.end {
        let c = match end.status {
            RunStatus::Finished => Color::Green,
            RunStatus::Interrupted => Color::Yellow,
            RunStatus::Failed | RunStatus::Unknown => Color::Red,
        };
        return (end.status.to_string(), c);
    }
    match &st.source {
        Some(SourceStatus::NoDirectory) => ("waiting for run directory".into(), Color::Yellow),
        Some(SourceStatus::NoEventsFile) => ("waiting for events.jsonl".into(), Color::Yellow),
        Some(SourceStatus::Unreadable(e)) => (format!("unreadable: {e}"), Color::Red),
        _ if st.last_step().is_none() => ("starting".into(), Color::Yellow),
        _ => ("running".into(), Color::Green),
    }
}
