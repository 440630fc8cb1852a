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
mod flush;
mod help;
mod intake;
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

pub fn render(frame: &mut Frame, app: &App) {
    let [header, body, status, footer] = frame.area().layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    let theme = Theme::of(app);
    let screen = match app.screen {
        Screen::Intake => "Intake",
        Screen::Triage => "Triage",
        Screen::Detail => "Detail",
        Screen::Verdict => "Verdict",
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
    let keys: Vec<Span> = keymap::footer(&app.scopes())
        .into_iter()
        .flat_map(|(keys, label)| [Span::styled(keys, theme.title()), Span::raw(format!(" {label}  "))])
        .collect();
    frame.render_widget(Paragraph::new(Line::from(keys)), footer);
    if app.flush_open {
        flush::render(frame, centered(frame.area(), 76, 16), app, &theme);
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
