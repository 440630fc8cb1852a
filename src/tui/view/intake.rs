//! Intake: paste a bounce or type a destination; what was understood shows live.
//! When this relay has deferred mail, its destinations are offered first, above
//! the paste box (or one line says why the queue could not be read).
//!
//! ```text
//! +- deferred on this relay ----------------------------------------+
//! | > example.net    3 msg  oldest 2h 5m  connect to mx.example...  |
//! +-----------------------------------------------------------------+
//! +- lab scenarios -+- paste a bounce ----------------------------+
//! | > healthy       | Jun 1 postfix/smtp[1]: ... status=deferred  |
//! |   expired       +- target -----------------------------------+
//! |   ...           | example.com                                 |
//! |                 +- understood ------------+- options ---------+
//! |                 | domain  example.com     | resolver  system  |
//! +-----------------+-------------------------+-------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::Theme;
use crate::relay::postfix::queue::{WORDING, age_text};
use crate::tui::app::{App, IntakeFocus, OptionKey, RelayQueue};
use crate::tui::wording::say;

/// Deferred destinations shown at once; more scroll.
const QUEUE_ROWS: u16 = 5;

/// Rows the relay-queue part takes: a framed list, one line of why not, or nothing.
fn queue_height(app: &App) -> u16 {
    match &app.intake.queue {
        RelayQueue::Read(queue) if !queue.destinations.is_empty() => {
            u16::try_from(queue.destinations.len())
                .unwrap_or(QUEUE_ROWS)
                .min(QUEUE_ROWS)
                + 2
        }
        RelayQueue::Unreadable(_) => 1,
        _ => 0,
    }
}

fn render_queue(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let intake = &app.intake;
    if let RelayQueue::Unreadable(why) = &intake.queue {
        let line = WORDING.say("intake", "unreadable", &[("why", why)]);
        frame.render_widget(Paragraph::new(line).style(theme.warn()), area);
        return;
    }
    let destinations = intake.queue.destinations();
    let width = destinations.iter().map(|d| d.domain.chars().count()).max().unwrap_or(0);
    let items: Vec<ListItem> = destinations
        .iter()
        .map(|d| {
            ListItem::new(Line::from(vec![
                Span::raw(format!("{:<width$}  ", d.domain)),
                Span::styled(
                    format!("{:>3} msg  oldest {:>7}  ", d.messages, age_text(d.oldest_age_secs)),
                    theme.dim(),
                ),
                Span::raw(d.last_reason.clone().unwrap_or_default()),
            ]))
        })
        .collect();
    let focused = intake.focus == IntakeFocus::Queue;
    let mut state = ListState::default().with_selected(Some(intake.queue_selected));
    let list = pick_list(items, &WORDING.say("intake", "title", &[]), focused, theme);
    frame.render_stateful_widget(list, area, &mut state);
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let intake = &app.intake;
    let main = if intake.offers.is_empty() {
        area
    } else {
        let [list, main] = area.layout(&Layout::horizontal([Constraint::Length(28), Constraint::Min(40)]));
        render_offers(frame, list, app, theme);
        main
    };
    let queue_rows = queue_height(app);
    let [queue, main] = main.layout(&Layout::vertical([Constraint::Length(queue_rows), Constraint::Min(0)]));
    if queue_rows > 0 {
        render_queue(frame, queue, app, theme);
    }
    // The understood pane gets the rows its fields need (the paste box keeps two),
    // so a Postfix status line's error phrase is not cut off below the queue age.
    let understood_lines = understood_lines(app, theme);
    let understood_width = main.width * 55 / 100;
    let needed = u16::try_from(super::wrapped_rows(
        understood_lines.clone(),
        understood_width.saturating_sub(2),
    ))
    .unwrap_or(u16::MAX)
    .saturating_add(2);
    let bottom_height = needed.max(9).min(main.height.saturating_sub(3 + 4)).max(3);
    let [paste, target, bottom] = main.layout(&Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(3),
        Constraint::Length(bottom_height),
    ]));
    let [understood, options] = bottom.layout(&Layout::horizontal([
        Constraint::Length(understood_width),
        Constraint::Min(0),
    ]));

    let mut paste_area = intake.paste.clone();
    paste_area.set_block(theme.block("paste a bounce, DSN or log lines", intake.focus == IntakeFocus::Paste));
    frame.render_widget(&paste_area, paste);

    let mut target_area = intake.target.clone();
    target_area.set_block(theme.block("target (Enter or C-r to run)", intake.focus == IntakeFocus::Target));
    frame.render_widget(&target_area, target);

    frame.render_widget(
        Paragraph::new(understood_lines)
            .block(theme.block("understood", false))
            .wrap(Wrap { trim: false }),
        understood,
    );
    // A paste naming several destinations: picking one matters more than the options now.
    if intake.destinations.len() > 1 {
        render_destinations(frame, options, app, theme);
    } else {
        render_options(frame, options, app, theme);
    }
}

fn render_destinations(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let intake = &app.intake;
    let focused = intake.focus == IntakeFocus::Destinations;
    let items: Vec<ListItem> = intake
        .destinations
        .iter()
        .map(|t| ListItem::new(theme.text(&t.to_string()).into_owned()))
        .collect();
    let count = intake.destinations.len().to_string();
    let mut state = ListState::default().with_selected(Some(intake.destination_selected));
    let list = pick_list(
        items,
        &say("intake", "destinations_title", &[("count", &count)]),
        focused,
        theme,
    );
    frame.render_stateful_widget(list, area, &mut state);
}

/// A list to pick from, its selection marked, and highlighted while it has the focus.
fn pick_list<'a>(items: Vec<ListItem<'a>>, title: &str, focused: bool, theme: &Theme) -> List<'a> {
    List::new(items)
        .block(theme.block(title, focused))
        .highlight_style(if focused {
            theme.selected()
        } else {
            ratatui::style::Style::default()
        })
        .highlight_symbol("> ")
}

fn render_offers(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let intake = &app.intake;
    // The highlighted scenario's summary gets rows of its own, so it never hides the list.
    let [list_area, summary_area] = area.layout(&Layout::vertical([Constraint::Min(3), Constraint::Length(10)]));
    let items: Vec<ListItem> = intake.offers.iter().map(|o| ListItem::new(o.name.clone())).collect();
    let mut state = ListState::default().with_selected(Some(intake.offer_selected));
    let list = List::new(items)
        .block(theme.block(
            &say("demo", "scenarios_title", &[]),
            intake.focus == IntakeFocus::Scenarios,
        ))
        .highlight_style(theme.selected())
        .highlight_symbol("> ");
    frame.render_stateful_widget(list, list_area, &mut state);
    let mut lines = vec![Line::styled(
        intake
            .offers
            .get(intake.offer_selected)
            .map(|o| o.summary.clone())
            .unwrap_or_default(),
        theme.dim(),
    )];
    // The demo trusts its own CA, not the system's roots: which one, in words and hash.
    if let Some(ca) = &app.lab_ca {
        lines.push(Line::raw(
            theme.text(&say("demo", "lab_ca", &[("ca", ca)])).into_owned(),
        ));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(theme.block(&say("demo", "scenario_title", &[]), false)),
        summary_area,
    );
}

/// Every field the intake extracted, the error phrase last (it is long and wraps).
fn understood_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match &app.intake.extracted {
        Ok(x) => {
            let row = |label: &str, value: Option<String>| {
                value.map(|v| {
                    Line::from(vec![
                        Span::styled(format!("{label:<9}"), theme.dim()),
                        Span::raw(theme.text(&v).into_owned()),
                    ])
                })
            };
            lines.extend(
                [
                    row("domain", x.domain.clone()),
                    row("MX host", x.mx_host.clone()),
                    row("address", x.address.map(|a| a.to_string())),
                    row("port", x.port.map(|p| p.to_string())),
                    row("MTA", x.mta.as_ref().map(ToString::to_string)),
                    row(
                        "status",
                        match (x.smtp_code, &x.enhanced_status) {
                            (None, None) => None,
                            (code, enhanced) => Some(
                                [code.map(|c| c.to_string()), enhanced.clone()]
                                    .into_iter()
                                    .flatten()
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ),
                        },
                    ),
                    row("queued", x.queue_age.clone()),
                    // Last: the phrase is long and wraps.
                    row("error", x.phrase.clone()),
                ]
                .into_iter()
                .flatten(),
            );
        }
        Err(not_found) => {
            if !app.intake.paste.is_empty() {
                lines.push(Line::styled(not_found.to_string(), theme.warn()));
            } else {
                lines.push(Line::styled("Paste text to see what it names.", theme.dim()));
            }
        }
    }
    if let Some(error) = &app.intake.error {
        lines.push(Line::styled(error.clone(), theme.bad()));
    }
    lines
}

fn render_options(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let intake = &app.intake;
    let focused = intake.focus == IntakeFocus::Options;
    if let Some((key, field)) = &intake.editing {
        let mut field = field.clone();
        field.set_block(theme.block(&format!("{} (Enter to keep)", key.label()), true));
        frame.render_widget(&field, area);
        return;
    }
    let items: Vec<ListItem> = OptionKey::ALL
        .iter()
        .map(|key| ListItem::new(format!("{:<8} {}", key.label(), app.option_display(*key))))
        .collect();
    let mut state = ListState::default().with_selected(focused.then_some(intake.option_selected));
    let list = List::new(items)
        .block(theme.block("options (Enter edits)", focused))
        .highlight_style(theme.selected());
    frame.render_stateful_widget(list, area, &mut state);
}
