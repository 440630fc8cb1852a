//! Verdict: cause, what this relay does about it, owner, confidence, evidence (Enter
//! jumps to it), fix, workaround, the retry checklist, this relay's configuration and
//! the recipient's policy.
//!
//! ```text
//! +- verdict ---------------------------------------------------------+
//! | The server's TLS layer dies right after it says 220                |
//! | This relay: defers the mail (it stays in the queue and is retried) |
//! | This is what holds this relay's mail.                              |
//! | remote MX broken · owner recipient · confidence medium (why)      |
//! | fix: ...                                                          |
//! +- evidence (Enter: show) ------------------------------------------+
//! | > mx2 [192.0.2.2] transcript line 11: closed after 220 ...         |
//! +- before you retry; this relay; recipient policy (PgUp/PgDn) ------+
//! | [FAIL] ... checklist, workaround                                   |
//! | This relay: Postfix 3.7, ...   (its log's words per address,       |
//! |   Route: ...                    then route, TLS level, settings)   |
//! | Recipient policy: ...                                              |
//! +-------------------------------------------------------------------+
//! ```
//!
//! The verdict pane does not scroll, so only the prediction's summary lines stand
//! under the headline; its per-address lines and the configuration scroll below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::Theme;
use crate::diagnose::{CheckStatus, EvidenceAt, Family};
use crate::model::relay::{Delivery, Outcome};
use crate::tui::app::App;
use crate::tui::wording::say;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(session) = &app.session else {
        frame.render_widget(
            Paragraph::new("No verdict yet.").block(theme.block("verdict", true)),
            area,
        );
        return;
    };
    let v = &session.verdict;
    let (summary, details) = prediction(session);
    let [head, evidence, rest] = area.layout(&Layout::vertical(panes(area.height, summary.len())));
    let headline = match v.family {
        Family::Healthy => theme.good(),
        Family::Inconclusive => theme.warn(),
        _ => theme.bad(),
    };
    let outcome_style = match v.relay.as_ref().map(|p| p.outcome) {
        Some(Outcome::Deliver(Delivery::Cleartext)) => theme.warn(),
        Some(outcome) if outcome.delivers() => theme.good(),
        _ => theme.bad(),
    };
    let mut lines = vec![Line::styled(
        v.title.clone(),
        headline.add_modifier(ratatui::style::Modifier::BOLD),
    )];
    // Under the headline: whether the verdict is what holds this relay's mail.
    lines.extend(summary.iter().enumerate().map(|(i, l)| {
        let style = if i == 0 { outcome_style } else { theme.warn() };
        Line::styled(theme.text(l).into_owned(), style)
    }));
    let at_fix = lines.len() + 1;
    lines.extend([
        Line::from(vec![
            Span::raw(format!(
                "{}, owner: {}, confidence: ",
                v.family.label(),
                v.owner.label()
            )),
            Span::styled(v.confidence.label().to_string(), theme.title()),
            Span::styled(format!(" ({})", v.confidence_reason), theme.dim()),
        ]),
        // The fix first: on a small terminal it is what must stay visible.
        Line::raw(format!("fix: {}", v.fix)),
        Line::styled(format!("why: {}", v.explanation), theme.dim()),
    ]);
    if let crate::diagnose::Scope::SomeAddresses { failing, working } = &v.scope {
        lines.insert(
            at_fix,
            Line::styled(
                format!(
                    "host-specific: failing {}; fine {}",
                    failing.join(", "),
                    working.join(", ")
                ),
                theme.warn(),
            ),
        );
    }
    if let Some(next) = &v.next_check {
        lines.push(Line::styled(format!("next check: {next}"), theme.warn()));
    }
    if let Some(t) = &v.tlsrpt {
        lines.push(Line::styled(format!("TLS-RPT: {t}"), theme.dim()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block("verdict", false))
            .wrap(Wrap { trim: true }),
        head,
    );

    let items: Vec<ListItem> = v
        .evidence
        .iter()
        .map(|e| {
            let place = match &e.at {
                EvidenceAt::Transcript { line } => format!("line {line}"),
                EvidenceAt::Certificate { position, field } => format!("cert [{position}] {field}"),
                EvidenceAt::Dns { name } => format!("DNS {name}"),
                EvidenceAt::Answer { .. } => "your answer".to_string(),
                EvidenceAt::Published { source } => source.clone(),
            };
            let who = e.address.map(|a| format!("[{}] ", a.ip())).unwrap_or_default();
            ListItem::new(theme.text(&format!("{who}{place}: {}", e.detail)).into_owned())
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.evidence_selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(theme.block("evidence (Enter: show it)", true))
            .highlight_style(theme.selected()),
        evidence,
        &mut state,
    );

    let more = more_lines(session, &details, theme);
    let scroll = app.verdict_scroll.min(super::room_for(more.clone(), rest, true).max);
    frame.render_widget(
        Paragraph::new(more)
            .block(theme.block(&say("verdict", "more_title", &[]), false))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        rest,
    );
}

/// The prediction's summary (under the headline) and details (in the scrolled pane).
fn prediction(session: &crate::report::Session) -> (Vec<String>, Vec<String>) {
    let v = &session.verdict;
    v.relay
        .as_ref()
        .map(|p| split_prediction(crate::report::relay::prediction(p, v)))
        .unwrap_or_default()
}

/// How far the checklist, relay and policy pane scrolls.
pub(super) fn room(app: &App, area: Rect, theme: &Theme) -> super::Room {
    let Some(session) = &app.session else {
        return super::room_for(Vec::new(), area, true);
    };
    let (summary, details) = prediction(session);
    let [_, _, rest] = area.layout(&Layout::vertical(panes(area.height, summary.len())));
    super::room_for(more_lines(session, &details, theme), rest, true)
}

/// The scrolled pane: checklist, workaround, this relay, the recipient's policy.
fn more_lines(session: &crate::report::Session, details: &[String], theme: &Theme) -> Vec<Line<'static>> {
    let v = &session.verdict;
    let mut more = Vec::new();
    for item in &v.checklist {
        let (mark, style) = match item.status {
            CheckStatus::Pass => ("[ ok ]", theme.good()),
            CheckStatus::Fail => ("[FAIL]", theme.bad()),
            CheckStatus::Ask => ("[ask ]", theme.warn()),
        };
        let detail = if item.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", item.detail)
        };
        more.push(Line::from(vec![
            Span::styled(mark, style),
            Span::raw(theme.text(&format!(" {}{detail}", item.text)).into_owned()),
        ]));
    }
    if let Some(w) = &v.workaround {
        more.push(Line::raw(""));
        more.push(Line::styled(
            format!("Temporary workaround, until {}:", w.expires),
            theme.title(),
        ));
        more.push(Line::styled(w.warning.clone(), theme.warn()));
        more.extend(w.postfix.lines().map(|l| Line::raw(l.to_string())));
        more.extend(w.exim.lines().map(|l| Line::raw(l.to_string())));
    }
    if let Some(relay) = &session.check.relay {
        let mut configuration = crate::report::relay::configuration(relay).into_iter();
        let mta = configuration.next().unwrap_or_default();
        more.push(Line::raw(""));
        more.push(Line::styled(
            theme
                .text(&say("verdict", "relay_heading", &[("mta", &mta)]))
                .into_owned(),
            theme.title(),
        ));
        // The prediction's detail lines are indented by the asset already.
        more.extend(details.iter().map(|l| Line::raw(theme.text(l).into_owned())));
        more.extend(configuration.map(|l| Line::raw(theme.text(&format!("  {l}")).into_owned())));
    }
    if let Some(policy) = &session.check.recipient {
        more.push(Line::raw(""));
        more.push(Line::styled(
            format!("Recipient policy: {}", policy.status_line()),
            theme.title(),
        ));
        for section in crate::report::policy::sections(policy, &session.check.probes) {
            more.push(Line::styled(section.title, theme.title()));
            more.extend(section.lines.into_iter().map(|l| Line::raw(format!("  {l}"))));
        }
    }
    more
}

/// Heights of the verdict, evidence and scrolled panes. The prediction's summary gets
/// rows of its own, so the fix stays in view: on a small screen two are taken from the
/// scrolled pane (it scrolls, the verdict pane does not), on a large one from the spare.
fn panes(height: u16, summary: usize) -> [Constraint; 3] {
    if summary == 0 {
        return [Constraint::Length(10), Constraint::Min(3), Constraint::Percentage(40)];
    }
    let extra = u16::try_from(summary)
        .unwrap_or(u16::MAX)
        .min(height.saturating_sub(21) + 2);
    let head = 10 + extra;
    let rest = (height * 2 / 5).min(height.saturating_sub(head + 3));
    [Constraint::Length(head), Constraint::Min(3), Constraint::Length(rest)]
}

/// The prediction's lines as its asset lays them out: unindented lines say what the
/// relay does and whether the verdict is why (the summary, under the headline); the
/// indented ones give its log's words and each address (the details, scrolled).
fn split_prediction(lines: Vec<String>) -> (Vec<String>, Vec<String>) {
    lines.into_iter().partition(|l| !l.starts_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prediction_summary_is_its_unindented_lines() {
        let (summary, details) = split_prediction(vec![
            "This relay: defers".into(),
            "  its log would say: x".into(),
            "  mx[192.0.2.1]: defers - x (probe)".into(),
            "This is what holds this relay's mail.".into(),
        ]);
        assert_eq!(summary, ["This relay: defers", "This is what holds this relay's mail."]);
        assert_eq!(details.len(), 2);
    }
}
