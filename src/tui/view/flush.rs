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
        Flush::Idle | Flush::Confirming(_) => return,
    };
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(&say("flush", "title", &[("domain", domain)]), true))
            .wrap(Wrap { trim: false })
            .scroll((app.flush_scroll, 0)),
        area,
    );
}
