//! The retry of this relay's deferred mail: what Postfix was asked, then the new log
//! lines about the destination, as `mxtriage queue --flush` prints them.
//!
//! ```text
//! +- retry of example.net (Esc closes, j/k scroll) ----------------+
//! | asked Postfix to deliver example.net now (postqueue -s ...)    |
//! | Jun  1 10:00:01 postfix/smtp[12]: 4F1A: to=<a@example.net>,... |
//! +----------------------------------------------------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::Theme;
use crate::relay::postfix::queue::FOLLOW;
use crate::tui::app::{App, Flush};
use crate::tui::wording::say;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some((domain, lines)) = content(app, theme) else {
        return;
    };
    let scroll = app.flush_scroll.min(super::room_for(lines.clone(), area, true).max);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(&say("flush", "title", &[("domain", domain)]), true))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

pub(super) fn room(app: &App, area: Rect, theme: &Theme) -> super::Room {
    let lines = content(app, theme).map(|(_, lines)| lines).unwrap_or_default();
    super::room_for(lines, area, true)
}

/// The destination retried and the lines about it; `None` when no retry is shown.
fn content<'a>(app: &'a App, theme: &Theme) -> Option<(&'a str, Vec<Line<'static>>)> {
    let seconds = FOLLOW.as_secs().to_string();
    let (domain, lines): (&str, Vec<Line>) = match &app.flush {
        Flush::Running { domain } => (
            domain,
            vec![Line::styled(
                say("flush", "running", &[("domain", domain), ("seconds", &seconds)]),
                theme.dim(),
            )],
        ),
        Flush::Finished {
            domain,
            result: Ok(outcome),
        } => (
            domain,
            outcome
                .render_text(FOLLOW)
                .lines()
                .map(|l| Line::raw(theme.text(l).into_owned()))
                .collect(),
        ),
        Flush::Finished {
            domain,
            result: Err(error),
        } => (
            domain,
            vec![Line::styled(
                theme
                    .text(&say("flush", "failed", &[("domain", domain), ("error", error)]))
                    .into_owned(),
                theme.bad(),
            )],
        ),
        Flush::Idle | Flush::Confirming(_) => return None,
    };
    Some((domain, lines))
}
