//! The latest validation sample: the image (or a placeholder frame with the reason it
//! cannot be shown) and its prompts.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui_image::{FilterType, Resize, StatefulImage};

use crate::image::{Content, SampleImages};

pub fn render(frame: &mut Frame, area: Rect, images: &mut SampleImages) {
    let Some(shown) = images.shown_mut() else {
        let block = Block::bordered().title(" Sample ");
        let p = Paragraph::new(Span::styled("no samples yet", Style::new().dim())).block(block);
        frame.render_widget(p, area);
        return;
    };
    let at = shown
        .step
        .map_or_else(String::new, |s| format!("@ step {s} "));
    let block = Block::bordered()
        .title(format!(" Sample {at}"))
        .title_bottom(
            Line::from(Span::styled(
                format!(" {} ", shown.path),
                Style::new().dim(),
            ))
            .right_aligned(),
        );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let prompt_rows = (shown.prompts.len() as u16).min(3).min(inner.height / 3);
    let [img_area, prompt_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(prompt_rows)]).areas(inner);
    match &mut shown.content {
        Content::Image(proto) => {
            let widget = StatefulImage::default().resize(Resize::Scale(Some(FilterType::Triangle)));
            frame.render_stateful_widget(widget, img_area, proto.as_mut());
        }
        Content::Failed(reason) => {
            let text = vec![
                Line::from(Span::styled(
                    "✗ cannot show this sample",
                    Style::new().red().bold(),
                )),
                Line::from(Span::styled(reason.clone(), Style::new().red())),
            ];
            let frame_block = Block::bordered()
                .border_style(Style::new().red())
                .title(" placeholder ");
            let p = Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .block(frame_block);
            frame.render_widget(p, img_area);
        }
        Content::Disabled => {
            let p = Paragraph::new(Span::styled(
                "images off (--images off)",
                Style::new().dim(),
            ));
            frame.render_widget(p, img_area);
        }
    }
    let prompts: Vec<Line> = shown
        .prompts
        .iter()
        .take(prompt_rows as usize)
        .map(|p| Line::from(Span::styled(format!("“{p}”"), Style::new().italic())))
        .collect();
    frame.render_widget(Paragraph::new(prompts), prompt_area);
}
