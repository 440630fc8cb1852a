//! Detail of one address: transcript beside the certificate chain.
//!
//! ```text
//! +- TLS: TLSv1.3 TLS_AES_256_GCM_SHA384 x25519, SNI mx.example.com -----+
//! +- transcript -----------------------+- certificate chain ---------------+
//! |  0 ms     -- connecting to ...     | [0] CN=mx.example.com              |
//! |  3 ms     S: 220 mx ESMTP          |     SANs: mx.example.com           |
//! |  4 ms tls C: EHLO relay            |     expired 3 days ago  <- problem |
//! +------------------------------------+-----------------------------------+
//! | swaks ... / openssl s_client ...                                       |
//! +------------------------------------------------------------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::model::{Direction, ProbeResult};
use crate::report::chain::Tone;
use crate::tui::app::{App, DetailPane};

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(probe) = app.selected_probe() else {
        frame.render_widget(
            Paragraph::new("No result for this address yet.").block(theme.block("detail", true)),
            area,
        );
        return;
    };
    let [summary, left, right, reproduce] = areas(area, app);
    let tls = probe.tls.as_ref().map_or("no TLS session".to_string(), |t| {
        format!(
            "{} {} {}, SNI {}",
            t.version,
            t.cipher_suite,
            t.key_exchange_group.map(|g| g.name()).unwrap_or_default(),
            t.sni.as_deref().unwrap_or("(none)")
        )
    });
    let outcome = match &probe.failure {
        Some(f) => Span::styled(
            format!("FAILED at {}: {}", probe.stage.label(), theme.text(&f.summary())),
            theme.bad(),
        ),
        None => Span::styled(format!("completed; TLS: {}", theme.text(&tls)), theme.good()),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("{} [{}] ", theme.text(&probe.mx), probe.address), theme.title()),
                outcome,
            ]),
            Line::styled(
                theme
                    .text(
                        &probe
                            .findings
                            .iter()
                            .map(|f| f.describe())
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                    .into_owned(),
                theme.warn(),
            ),
        ]),
        summary,
    );
    let transcript = transcript(probe, theme);
    let scroll = app
        .transcript_scroll
        .min(super::room_for(transcript.clone(), left, false).max);
    frame.render_widget(
        Paragraph::new(transcript)
            .block(theme.block("transcript", app.detail_focus == DetailPane::Transcript))
            .scroll((scroll, 0)),
        left,
    );
    // Wrapped here, not by the Paragraph: see `wrap_marked`.
    let inner = usize::from(right.width.saturating_sub(2));
    let chain = chain(probe, theme, inner);
    let scroll = app.chain_scroll.min(super::room_for(chain.clone(), right, false).max);
    frame.render_widget(
        Paragraph::new(chain)
            .block(theme.block("certificate chain", app.detail_focus == DetailPane::Chain))
            .scroll((scroll, 0)),
        right,
    );
    let commands: Vec<Line> = app
        .session
        .as_ref()
        .and_then(|s| s.verdict.reproduce.iter().find(|r| r.address == probe.address))
        .map(|r| {
            vec![
                Line::raw(theme.text(&r.swaks).into_owned()),
                Line::raw(theme.text(&r.openssl).into_owned()),
            ]
        })
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(commands)
            .block(theme.block("reproduce by hand", false))
            .wrap(Wrap { trim: false }),
        reproduce,
    );
}

/// The summary, transcript, chain and reproduce parts of the screen.
fn areas(area: Rect, app: &App) -> [Rect; 4] {
    let [summary, panes, reproduce] = area.layout(&Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(4),
    ]));
    let wide = |pane| if app.detail_wide == pane { 62 } else { 38 };
    let [left, right] = panes.layout(&Layout::horizontal([
        Constraint::Percentage(wide(DetailPane::Transcript)),
        Constraint::Percentage(wide(DetailPane::Chain)),
    ]));
    [summary, left, right, reproduce]
}

/// How far the transcript or the chain pane scrolls.
pub(super) fn room(app: &App, area: Rect, theme: &Theme, pane: super::Scrolled) -> super::Room {
    let [_, left, right, _] = areas(area, app);
    match (app.selected_probe(), pane) {
        (Some(probe), super::Scrolled::Transcript) => super::room_for(transcript(probe, theme), left, false),
        (Some(probe), _) => {
            let inner = usize::from(right.width.saturating_sub(2));
            super::room_for(chain(probe, theme, inner), right, false)
        }
        (None, _) => super::room_for(Vec::new(), left, false),
    }
}

fn transcript(probe: &ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
    probe
        .transcript
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let arrow = l.direction.marker();
            let style = match l.direction {
                Direction::Client => theme.fg(ratatui::style::Color::Cyan),
                Direction::Server => ratatui::style::Style::new(),
                Direction::Event => theme.dim(),
            };
            let lock = if l.encrypted { "tls" } else { "   " };
            Line::from(vec![
                Span::styled(format!("{i:>3} {:>5}ms {lock} ", l.at_ms), theme.dim()),
                Span::styled(format!("{arrow} {}", theme.text(l.text.as_str())), style),
            ])
        })
        .collect()
}

fn chain(probe: &ProbeResult, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut push = |depth: usize, text: &str, style: Style| {
        let indent = "    ".repeat(depth);
        let rows = wrap_marked(&format!("{indent}{}", theme.text(text)), width, theme.continuation());
        lines.extend(rows.into_iter().enumerate().map(|(i, row)| {
            if i == 0 {
                Line::styled(row, style)
            } else {
                // The marker dim, the text in the line's own style.
                let (marker, rest) = row.split_at(row.len() - row.trim_start().len() + theme.continuation().len());
                Line::from(vec![
                    Span::styled(marker.to_string(), theme.dim()),
                    Span::styled(rest.to_string(), style),
                ])
            }
        }));
    };
    if let Some(opinion) = &probe.second_opinion {
        push(0, &opinion.describe(), theme.title());
    }
    if let Some(scan) = &probe.scan {
        push(0, "capability scan:", theme.title());
        for l in scan.describe() {
            push(0, &format!("  {l}"), Style::default());
        }
    }
    let Some(chain) = &probe.chain else {
        push(
            0,
            "No certificate: the handshake did not get that far.",
            Style::default(),
        );
        return lines;
    };
    for l in crate::report::chain::lines(chain) {
        let style = match l.tone {
            Tone::Heading => theme.title(),
            Tone::Plain => Style::default(),
            Tone::Good => theme.good(),
            Tone::Bad => theme.bad(),
            Tone::Dim => theme.dim(),
        };
        push(l.depth, &l.text, style);
    }
    lines
}

/// `text` cut into rows of at most `width` columns, at spaces where it can be; every
/// row after the first starts where the text does, with `marker`.
///
/// Each line of the chain pane is one fact, and its first column says which. A
/// certificate name is peer text: wrapped by the widget, a long one would continue on
/// rows that read like facts of their own ("trust Mozilla roots: trusted" above the
/// real "unknown issuer"). A marked continuation row cannot pass for one, since no
/// line of the pane starts with the marker.
fn wrap_marked(text: &str, width: usize, marker: &str) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let indent = text.len() - text.trim_start().len();
    let lead = format!("{}{marker}", " ".repeat(indent));
    // Too narrow to wrap meaningfully: let the pane cut the line.
    if width <= lead.width() + 8 {
        return vec![text.to_string()];
    }
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let prefix = if rows.is_empty() && row.is_empty() {
            ""
        } else {
            lead.as_str()
        };
        if row.is_empty() {
            row.push_str(prefix);
            used = prefix.width();
            if !prefix.is_empty() {
                rest = rest.trim_start();
            }
        }
        // The longest piece that fits, preferring to end before a space.
        let mut end = 0;
        let mut last_space = None;
        let mut cols = used;
        for (i, c) in rest.char_indices() {
            let w = c.width().unwrap_or(0);
            if cols + w > width {
                if c == ' ' {
                    last_space = Some(i);
                }
                break;
            }
            cols += w;
            end = i + c.len_utf8();
            if c == ' ' {
                last_space = Some(i);
            }
        }
        if end == rest.len() {
            row.push_str(rest);
            rows.push(row);
            return rows;
        }
        let cut = match last_space {
            Some(space) if space > 0 => space,
            _ => end.max(rest.chars().next().map_or(1, char::len_utf8)),
        };
        row.push_str(&rest[..cut]);
        rows.push(std::mem::take(&mut row));
        rest = &rest[cut..];
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_rows_are_marked_and_indented() {
        let rows = wrap_marked(
            "[0] subject CN=mx.example chain: complete trust Mozilla roots: trusted",
            30,
            "> ",
        );
        assert_eq!(rows[0], "[0] subject CN=mx.example");
        assert!(rows.len() > 1, "{rows:?}");
        for row in &rows[1..] {
            assert!(row.starts_with("> "), "{row:?}");
            assert!(row.chars().count() <= 30, "{row:?}");
        }
        let detail = wrap_marked("    issuer CN=a-very-long-issuer-name-without-spaces-at-all", 30, "> ");
        assert!(detail[1..].iter().all(|r| r.starts_with("    > ")), "{detail:?}");
        // A word that fits exactly ends its row; the space after it is not carried over.
        assert_eq!(wrap_marked("abcdefghijkl mn", 12, "> "), vec!["abcdefghijkl", "> mn"]);
        assert_eq!(wrap_marked("short", 30, "> "), vec!["short"]);
    }
}
