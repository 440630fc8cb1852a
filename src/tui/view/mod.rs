//! Rendering: a pure function of the model, one module per screen.
//!
//! ```text
//! +- mxtriage · <screen> · <target> ------------------------------+
//! |                                                               |
//! |                    the screen's own layout                    |
//! |                                                               |
//! +---------------------------------------------------------------+
//!  status line (errors, hints)
//!  footer: the keys that work here, from the keymap
//! ```
//!
//! Help and the retry's result are drawn over whichever screen is open.

mod detail;
mod export;
pub mod flowchart;
mod flush;
mod help;
mod intake;
mod timeline;
mod triage;
mod verdict;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Flush, Screen};
use super::keymap;

/// Styles that degrade to plain text under NO_COLOR (meaning is always in the words too).
pub struct Theme {
    color: bool,
    ascii: bool,
}

/// Borders for terminals without UTF-8 (a serial console, an old `screen`).
const ASCII_BORDER: symbols::border::Set<'static> = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Theme {
    pub fn of(app: &App) -> Self {
        Theme {
            color: !app.no_color,
            ascii: app.ascii,
        }
    }

    pub fn block(&self, title: &str, focused: bool) -> Block<'static> {
        let block = block(title, focused);
        if self.ascii {
            block.border_set(ASCII_BORDER)
        } else {
            block
        }
    }

    /// Peer text as this terminal can show it: as is on a UTF-8 terminal, otherwise
    /// every non-ASCII character spelled `\u{..}` (see [`crate::text::ascii_escaped`]).
    /// [`render`] makes sure of it for whatever does not come through here.
    pub fn text<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if self.ascii {
            crate::text::ascii_escaped(s)
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    }

    /// No colour, Unicode allowed: for tests of what a view draws.
    #[cfg(test)]
    pub fn plain() -> Self {
        Theme {
            color: false,
            ascii: false,
        }
    }

    /// Only ASCII may be drawn (no UTF-8 locale).
    pub fn ascii(&self) -> bool {
        self.ascii
    }

    /// Starts a row that continues the line above (see `detail::wrap_marked`).
    pub fn continuation(&self) -> &'static str {
        if self.ascii { "-> " } else { "↳ " }
    }

    /// A separator that survives a non-UTF-8 terminal.
    pub fn dot(&self) -> &'static str {
        if self.ascii { "-" } else { "·" }
    }

    pub fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    /// The selected row: reversed, which survives NO_COLOR.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

pub fn block(title: &str, focused: bool) -> Block<'static> {
    let title = if focused {
        format!(" {title} * ")
    } else {
        format!(" {title} ")
    };
    Block::new().borders(Borders::ALL).title(title)
}

/// ASCII spinner: works on any terminal.
pub fn spinner(app: &App) -> &'static str {
    ["|", "/", "-", "\\"][app.spinner % 4]
}

/// Header, body, status line and footer of a screen of `area`.
fn frame_parts(area: Rect) -> [Rect; 4] {
    area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ]))
}

/// A pane whose text scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrolled {
    Transcript,
    Chain,
    /// Verdict's checklist, workaround, relay and policy pane.
    VerdictMore,
    /// Verdict's own pane: headline, fix, the open question, why.
    VerdictHead,
    /// The decision path drawn as a flowchart.
    Flowchart,
    Flush,
}

/// What else was learnt of one address, as it arrives: OpenSSL's view, the follow-up
/// of a failed handshake (or that it runs), this relay's own client, the scan.
pub fn address_extras(app: &App, probe: &crate::model::ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
    use super::wording::say;
    let mut lines = Vec::new();
    let mut push = |key: &str, text: &str, style: Style| {
        lines.push(Line::styled(
            theme.text(&say("address", key, &[("text", text)])).into_owned(),
            style,
        ));
    };
    if let Some(opinion) = &probe.second_opinion {
        push("openssl", &opinion.describe(), Style::new());
    }
    if let Some(follow_up) = &probe.follow_up {
        push("follow_up", &follow_up.describe(), Style::new());
    } else if app.following_up(probe) {
        push("following_up", spinner(app), theme.warn());
    }
    if let Some(client) = &probe.relay_client {
        push("relay_client", &client.summary(), Style::new());
    }
    if let Some(scan) = &probe.scan {
        push("scan", "", theme.title());
        for l in scan.describe() {
            lines.push(Line::raw(theme.text(&format!("  {l}")).into_owned()));
        }
    }
    lines
}

/// How far a pane scrolls before its last line would leave the bottom row, and how far
/// a page moves: one row less than the pane shows, so paging never skips a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    pub max: u16,
    pub page: u16,
}

/// The room of `pane` on the terminal the app was last drawn on ([`App::viewport`]):
/// the same layout and the same lines as the drawing, so `update` can keep every
/// scroll offset inside the content.
pub fn scroll_room(app: &App, pane: Scrolled) -> Room {
    let (width, height) = app.viewport;
    let area = Rect::new(0, 0, width, height);
    let [_, body, _, _] = frame_parts(area);
    let theme = Theme::of(app);
    match pane {
        Scrolled::Transcript | Scrolled::Chain => detail::room(app, body, &theme, pane),
        Scrolled::VerdictMore | Scrolled::VerdictHead => verdict::room(app, body, &theme, pane),
        Scrolled::Flowchart => flowchart::room(app, body, &theme),
        Scrolled::Flush => flush::room(app, flush_area(area), &theme),
    }
}

/// The rows above the first transcript line in Detail (the time line, when it leads),
/// at the current terminal size.
pub fn transcript_lead(app: &App) -> usize {
    let (width, height) = app.viewport;
    let [_, body, _, _] = frame_parts(Rect::new(0, 0, width, height));
    detail::transcript_lead(app, body, &Theme::of(app))
}

fn flush_area(area: Rect) -> Rect {
    centered(area, 76, 16)
}

/// The room of a bordered pane at `area` showing `lines` (wrapped by words when `wrap`).
fn room_for(lines: Vec<Line<'_>>, area: Rect, wrap: bool) -> Room {
    let inner = area.height.saturating_sub(2);
    let rows = if wrap {
        wrapped_rows(lines, area.width.saturating_sub(2))
    } else {
        lines.len()
    };
    Room {
        max: u16::try_from(rows).unwrap_or(u16::MAX).saturating_sub(inner),
        page: inner.saturating_sub(1).max(1),
    }
}

/// Rows `lines` take in a word-wrapped paragraph `width` wide, counted by drawing
/// them: the widget's own wrapping decides, so the count cannot drift from it.
fn wrapped_rows(lines: Vec<Line<'_>>, width: u16) -> usize {
    use ratatui::widgets::Widget;
    if width == 0 {
        return lines.len();
    }
    // Greedy word wrapping fills any two rows in a row past the width, so this bounds it.
    let bound: usize = lines.iter().map(|l| 2 * (l.width() / usize::from(width) + 1)).sum();
    let height = u16::try_from(bound.min(20_000)).unwrap_or(u16::MAX);
    let area = Rect::new(0, 0, width, height);
    let mut buffer = ratatui::buffer::Buffer::empty(area);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, &mut buffer);
    (0..height)
        .rev()
        .find(|&y| (0..width).any(|x| buffer[(x, y)].symbol() != " "))
        .map_or(0, |y| usize::from(y) + 1)
}

/// The footer's keys for a terminal `width` columns wide (see [`keymap::footer_fit`]).
pub fn footer_keys(app: &App, width: u16) -> Vec<(&'static str, &'static str)> {
    keymap::footer_fit(&app.scopes(), usize::from(width), |action| app.offers(action))
}

/// The footer as drawn: what a test compares the bottom row with.
pub fn footer_text(app: &App, width: u16) -> String {
    footer_keys(app, width)
        .iter()
        .map(|(key, label)| format!("{key} {label}"))
        .collect::<Vec<_>>()
        .join(keymap::FOOTER_GAP)
}

pub fn render(frame: &mut Frame, app: &App) {
    let [header, body, status, footer] = frame_parts(frame.area());
    let theme = Theme::of(app);
    let screen = match app.screen {
        Screen::Intake => "Intake",
        Screen::Triage => "Triage",
        Screen::Detail => "Detail",
        Screen::Verdict => "Verdict",
        Screen::Flowchart => "Flowchart",
        Screen::Export => "Export",
    };
    let target = app.run.as_ref().map(|r| r.target.to_string()).unwrap_or_default();
    let busy = match app.phase() {
        Some(phase) => format!(" {} {phase}", spinner(app)),
        None => String::new(),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("mxtriage", theme.title()),
            Span::raw(format!(" {dot} {screen} {dot} {target}{busy}", dot = theme.dot())),
        ])),
        header,
    );
    match app.screen {
        Screen::Intake => intake::render(frame, body, app, &theme),
        Screen::Triage => triage::render(frame, body, app, &theme),
        Screen::Detail => detail::render(frame, body, app, &theme),
        Screen::Verdict => verdict::render(frame, body, app, &theme),
        Screen::Flowchart => flowchart::render(frame, body, app, &theme),
        Screen::Export => export::render(frame, body, app, &theme),
    }
    let status_text = if app.confirm_quit {
        super::wording::say("quit", "confirm", &[])
    } else if let Flush::Confirming(request) = &app.flush {
        super::wording::say("flush", "confirm", &[("domain", &request.domain)])
    } else {
        app.status.clone().unwrap_or_default()
    };
    frame.render_widget(Paragraph::new(status_text).style(theme.warn()), status);
    let mut keys: Vec<Span> = Vec::new();
    for (i, (key, label)) in footer_keys(app, footer.width).into_iter().enumerate() {
        if i > 0 {
            keys.push(Span::raw(keymap::FOOTER_GAP));
        }
        keys.extend([Span::styled(key, theme.title()), Span::raw(format!(" {label}"))]);
    }
    frame.render_widget(Paragraph::new(Line::from(keys)), footer);
    if app.flush_open {
        flush::render(frame, flush_area(frame.area()), app, &theme);
    }
    if app.help {
        help::render(frame, centered(frame.area(), 76, 20), &theme);
    }
    if app.ascii {
        ascii_only(frame.buffer_mut());
    }
}

/// The guarantee for a terminal whose locale is not UTF-8: no cell holds anything but
/// ASCII, whichever widget wrote it (a text area, a title, a string no view passed
/// through [`Theme::text`]). Peer text normally arrives already spelled `\u{..}`; what
/// is left is the tool's own punctuation, given its ASCII look, and anything else
/// becomes `?`, since one cell has no room for an escape.
fn ascii_only(buffer: &mut ratatui::buffer::Buffer) {
    for cell in &mut buffer.content {
        let symbol = cell.symbol();
        if symbol.is_ascii() {
            continue;
        }
        let plain = match symbol {
            "—" | "–" | "·" | "─" | "━" => "-",
            "→" | "›" | "»" => ">",
            "←" | "‹" | "«" => "<",
            "…" => ".",
            "✓" | "✔" => "+",
            "✗" | "✘" => "x",
            "•" => "*",
            "│" | "┃" => "|",
            _ => "?",
        };
        cell.set_symbol(plain);
    }
}

/// A rectangle of at most `width` × `height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

pub fn overlay(frame: &mut Frame, area: Rect, theme: &Theme, title: &str, lines: Vec<Line<'static>>) {
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(title, true))
            .wrap(Wrap { trim: false }),
        area,
    );
}
