//! Detail of one address: transcript beside the certificate chain. An address still
//! being probed shows its stages so far and the one running, with its timeout.
//!
//! ```text
//!  mx.example.com [192.0.2.1:25] FAILED at TLS handshake: the whole failure,
//!  wrapped over as many rows as it takes; then each finding
//! +- transcript -----------------------+- certificate chain ---------------+
//! |  0 ms     -- connecting to ...     | second opinion / follow-up /       |
//! |                                    | this relay's client / scan (live)  |
//! |                                    | [0] CN=mx.example.com              |
//! |  3 ms     S: 220 mx ESMTP          |     SANs: mx.example.com           |
//! |  4 ms tls C: EHLO relay            |     expired 3 days ago  <- problem |
//! +------------------------------------+-----------------------------------+
//! | swaks ... (both commands, wrapped; the pane is sized to them)          |
//! | openssl s_client ...                                                   |
//! +------------------------------------------------------------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, timeline};
use crate::model::{Direction, ProbeResult, TranscriptLine};
use crate::report::chain::Tone;
use crate::tui::app::{App, DetailPane};

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(probe) = app.selected_probe() else {
        render_live(frame, area, app, theme);
        return;
    };
    let head = summary_lines(probe, theme);
    let commands = reproduce_lines(app, probe, theme);
    let [summary, left, right, reproduce] = areas(area, app, &head, &commands);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), summary);
    let transcript = transcript(probe, theme, left);
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
    let chain = chain(app, probe, theme, inner);
    let scroll = app.chain_scroll.min(super::room_for(chain.clone(), right, false).max);
    frame.render_widget(
        Paragraph::new(chain)
            .block(theme.block("certificate chain", app.detail_focus == DetailPane::Chain))
            .scroll((scroll, 0)),
        right,
    );
    frame.render_widget(
        Paragraph::new(commands)
            .block(theme.block("reproduce by hand", false))
            .wrap(Wrap { trim: false }),
        reproduce,
    );
}

/// An address still being probed: its stages so far on the time line, the one running
/// now with its timeout, and the transcript as it comes in; the result replaces this
/// when the session ends.
fn render_live(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some((run, target)) = app.run.as_ref().zip(app.selected_target()) else {
        frame.render_widget(
            Paragraph::new("No result for this address yet.").block(theme.block("detail", true)),
            area,
        );
        return;
    };
    let index = app.address_selected;
    let address = format!("{} [{}]", theme.text(&target.mx), target.address);
    let title = crate::tui::wording::say("run", "live_title", &[("address", &address)]);
    let block = theme.block(&title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The time line and the stage running stay in view; the transcript scrolls under them.
    let mut head = timeline::rows(&super::triage::live_marks(run, index), usize::from(inner.width), theme);
    head.push(Line::styled(
        format!("{} {}", super::spinner(app), super::triage::pending_text(app, index)),
        theme.warn(),
    ));
    let head_rows = u16::try_from(super::wrapped_rows(head.clone(), inner.width)).unwrap_or(u16::MAX);
    let [top, rest] = inner.layout(&Layout::vertical([
        Constraint::Length(head_rows.saturating_add(1).min(inner.height / 2)),
        Constraint::Min(0),
    ]));
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), top);
    let live = run.live.get(index).map(Vec::as_slice).unwrap_or_default();
    let lines: Vec<Line> = live
        .iter()
        .enumerate()
        .map(|(i, l)| transcript_line(i, l, theme))
        .collect();
    // The newest lines matter most: keep the end in view as they arrive.
    let rows = u16::try_from(super::wrapped_rows(lines.clone(), rest.width)).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((rows.saturating_sub(rest.height), 0)),
        rest,
    );
}

/// The columns inside a bordered pane.
fn inner_width(area: Rect) -> usize {
    usize::from(area.width.saturating_sub(2))
}

/// The address, how its session ended (TLS or the failure) and the findings: every
/// word of it, wrapped, since the failure is what the operator came to read.
fn summary_lines(probe: &ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
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
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} [{}] ", theme.text(&probe.mx), probe.address), theme.title()),
        outcome,
    ])];
    lines.extend(
        probe
            .findings
            .iter()
            .map(|f| Line::styled(theme.text(&f.describe()).into_owned(), theme.warn())),
    );
    lines
}

/// Both commands that reproduce the session by hand.
fn reproduce_lines(app: &App, probe: &ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
    app.session
        .as_ref()
        .and_then(|s| s.verdict.reproduce.iter().find(|r| r.address == probe.address))
        .map(|r| {
            vec![
                Line::raw(theme.text(&r.swaks).into_owned()),
                Line::raw(theme.text(&r.openssl).into_owned()),
            ]
        })
        .unwrap_or_default()
}

/// The summary, transcript, chain and reproduce parts of the screen. The summary and
/// both reproduce commands get their wrapped rows (a third of the screen at most each);
/// the transcript and the chain, which scroll, get the rest.
fn areas(area: Rect, app: &App, head: &[Line<'_>], commands: &[Line<'_>]) -> [Rect; 4] {
    let rows =
        |lines: &[Line<'_>], width: u16| u16::try_from(super::wrapped_rows(lines.to_vec(), width)).unwrap_or(u16::MAX);
    let cap = (area.height / 3).max(2);
    let summary = rows(head, area.width).clamp(1, cap);
    let reproduce = rows(commands, area.width.saturating_sub(2))
        .saturating_add(2)
        .clamp(3, cap.max(4));
    let [summary, panes, reproduce] = area.layout(&Layout::vertical([
        Constraint::Length(summary),
        Constraint::Min(6),
        Constraint::Length(reproduce),
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
    let Some(probe) = app.selected_probe() else {
        return super::room_for(Vec::new(), area, false);
    };
    let [_, left, right, _] = areas(
        area,
        app,
        &summary_lines(probe, theme),
        &reproduce_lines(app, probe, theme),
    );
    match pane {
        super::Scrolled::Transcript => super::room_for(transcript(probe, theme, left), left, false),
        _ => {
            let inner = usize::from(right.width.saturating_sub(2));
            super::room_for(chain(app, probe, theme, inner), right, false)
        }
    }
}

/// Whether the time line (`rows` of it) goes above the transcript in a pane this tall:
/// when there is room for it and a dozen transcript lines. On a short pane the
/// transcript, which is the evidence, comes first and the time line follows it.
fn time_line_leads(rows: usize, pane: Rect) -> bool {
    rows > 0 && usize::from(pane.height.saturating_sub(2)) >= rows + 1 + 12
}

/// The rows above transcript line 0 in the Detail pane of the selected address (the
/// time line, when it leads), so a jump to a transcript line lands on it.
pub(super) fn transcript_lead(app: &App, area: Rect, theme: &Theme) -> usize {
    let Some(probe) = app.selected_probe() else {
        return 0;
    };
    let [_, left, _, _] = areas(
        area,
        app,
        &summary_lines(probe, theme),
        &reproduce_lines(app, probe, theme),
    );
    let rows = timeline::rows(&timeline::of_probe(probe), inner_width(left), theme).len();
    if time_line_leads(rows, left) { rows + 1 } else { 0 }
}

/// The session's time line and its transcript (see [`time_line_leads`]).
fn transcript(probe: &ProbeResult, theme: &Theme, pane: Rect) -> Vec<Line<'static>> {
    let bars = timeline::rows(&timeline::of_probe(probe), inner_width(pane), theme);
    let lines = probe
        .transcript
        .iter()
        .enumerate()
        .map(|(i, l)| transcript_line(i, l, theme));
    let mut out = Vec::new();
    if bars.is_empty() {
        out.extend(lines);
    } else if time_line_leads(bars.len(), pane) {
        out.extend(bars);
        out.push(Line::default());
        out.extend(lines);
    } else {
        out.extend(lines);
        out.push(Line::default());
        out.extend(bars);
    }
    out
}

fn transcript_line(i: usize, l: &TranscriptLine, theme: &Theme) -> Line<'static> {
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
}

fn chain(app: &App, probe: &ProbeResult, theme: &Theme, width: usize) -> Vec<Line<'static>> {
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
    // What else was learnt of the address comes first: it arrives after the session.
    for line in super::address_extras(app, probe, theme) {
        let style = line.style;
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        push(0, &text, style);
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
