//! Export: where the reports went, or why they did not; the session stays intact.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [messages, path] = area.layout(&Layout::vertical([Constraint::Min(3), Constraint::Length(3)]));
    let lines: Vec<Line> = app
        .export_messages
        .iter()
        .map(|m| {
            if m.starts_with("export failed") {
                Line::styled(m.clone(), theme.bad())
            } else {
                Line::raw(m.clone())
            }
        })
        .chain([
            Line::raw(""),
            Line::styled(
                "Markdown is ready for a ticket; JSON can be compared with `mxtriage report diff`.",
                theme.dim(),
            ),
        ])
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block("export", false))
            .wrap(Wrap { trim: false }),
        messages,
    );
    match &app.export_path {
        Some(field) => {
            let mut field = field.clone();
            field.set_block(theme.block("write to (Enter)", true));
            frame.render_widget(&field, path);
        }
        None => frame.render_widget(
            Paragraph::new("p: write to a path of your choice").block(theme.block("path", false)),
            path,
        ),
    }
}
