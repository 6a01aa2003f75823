//! Keyboard help popup.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Clear, Paragraph};

/// Key bindings, shown in the popup and used by the README.
pub const KEYS: [(&str, &str); 10] = [
    ("q / Ctrl-C", "quit the viewer (training keeps running)"),
    (
        "p / space",
        "pause / resume the display (data is still read)",
    ),
    ("s", "toggle EMA smoothing of the curves"),
    ("z", "zoom: recent window ↔ full history"),
    ("+ / -", "widen / narrow the recent window"),
    ("tab", "switch page: overview ↔ samples & config"),
    ("1 / 2", "overview / samples page"),
    ("r", "re-read events.jsonl from the start"),
    ("? / h", "toggle this help"),
    ("esc", "close help"),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let w = 64.min(area.width);
    let h = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<11}"), Style::new().cyan().bold()),
                Span::raw(*d),
            ])
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}
