//! The run's key configuration (from `run_start`) and checkpoint / parser bookkeeping.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::fmt;
use crate::state::DashboardState;

pub fn render(frame: &mut Frame, area: Rect, st: &DashboardState) {
    let mut lines: Vec<Line> = Vec::new();
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<9}"), Style::new().cyan()),
            Span::raw(v),
        ])
    };
    match &st.run {
        None => lines.push(Line::from(Span::styled(
            "no run_start yet",
            Style::new().dim(),
        ))),
        Some(r) => {
            let c = &r.config;
            let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
            let n = |v: Option<u64>| v.map_or_else(|| "–".into(), |x| x.to_string());
            lines.push(kv("model", s(&c.model)));
            lines.push(kv(
                "sampler",
                format!("{}  m={} K={}", s(&c.sampler), n(c.m), n(c.k)),
            ));
            lines.push(kv(
                "λ",
                format!(
                    "diff {}  adv {}",
                    fmt::opt(c.lambda_diff),
                    fmt::opt(c.lambda_adv)
                ),
            ));
            lines.push(kv(
                "lr",
                format!("G {}  D {}", fmt::opt(c.lr_g), fmt::opt(c.lr_d)),
            ));
            lines.push(kv("batch", n(c.batch_size)));
            lines.push(kv(
                "mode",
                if st.is_adversarial() {
                    "adversarial".into()
                } else {
                    "diffusion only".into()
                },
            ));
            if let Some(from) = r.resumed_from {
                lines.push(kv("resumed", format!("from step {from}")));
            }
        }
    }
    if let Some((step, path)) = &st.last_checkpoint {
        let at = step.map_or_else(String::new, |s| format!(" @{s}"));
        lines.push(kv("ckpt", format!("{path}{at}")));
    }
    if let Some(end) = &st.end {
        lines.push(kv("end", end.status.to_string()));
        if let Some(msg) = &end.message {
            lines.push(Line::from(Span::styled(msg.clone(), Style::new().dim())));
        }
    }
    let block = Block::bordered().title(" Config ");
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
