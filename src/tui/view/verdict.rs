//! Verdict: cause, what this relay does about it, owner, confidence, evidence (Enter
//! jumps to it), fix, workaround, the retry checklist, this relay's configuration and
//! the recipient's policy. The path that led here is one key away (`t`, see
//! [`super::flowchart`]).
//!
//! ```text
//! +- verdict ---------------------------------------------------------+
//! | The server's TLS layer dies right after it says 220                |
//! | This relay: defers the mail (it stays in the queue and is retried) |
//! | This is what holds this relay's mail.                              |
//! | about 6 of the 8 addresses (...); the others have other problems   |
//! | fix: ...                                                          |
//! | Open question (1-4 answers it): ...                               |
//! |  1) ...  2) ...  3) ...  4) ...   (one row each)                  |
//! | what is wrong, by address: each group, its addresses (may scroll)  |
//! | owner, confidence; why; next check (these may scroll: Tab, j/k)   |
//! +- evidence (Enter: show) ------------------------------------------+
//! | > mx2 [192.0.2.2] transcript line 11: closed after 220 ...         |
//! +- before you retry; this relay; recipient policy (PgUp/PgDn) ------+
//! | per address: OpenSSL, follow-up, relay client, scan (live)         |
//! | [FAIL] ... checklist, workaround                                   |
//! | This relay: Postfix 3.7, ...   (its log's words per address,       |
//! |   Route: ...                    then route, TLS level, settings)   |
//! | Recipient policy: ...                                              |
//! +-------------------------------------------------------------------+
//! ```
//!
//! The verdict pane gets its rows first and scrolls (Tab focuses it) when even they
//! are not enough; the open question stands under the fix with every option. Only the
//! prediction's summary lines stand under the headline; its per-address lines and
//! the configuration scroll below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::Theme;
use crate::diagnose::{Blocking, CheckStatus, EvidenceAt, Family};
use crate::model::relay::{Delivery, Outcome};
use crate::tui::app::{App, VerdictPane};
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
    let Head { lines, must } = head_lines(app, session, &summary, theme);
    let more = more_lines(app, session, &details, theme);
    let [head, evidence, rest] = panes(area, &lines, must, v.evidence.len());
    let room = super::room_for(lines.clone(), head, true);
    let scroll = app.verdict_head_scroll.min(room.max);
    let title = if room.max > 0 {
        say("verdict", "head_title_more", &[])
    } else {
        say("verdict", "head_title", &[])
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(&title, app.verdict_focus == VerdictPane::Head))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
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
            .block(theme.block(
                &say("verdict", "evidence_title", &[]),
                app.verdict_focus == VerdictPane::Evidence,
            ))
            .highlight_style(theme.selected()),
        evidence,
        &mut state,
    );

    let scroll = app.verdict_scroll.min(super::room_for(more.clone(), rest, true).max);
    frame.render_widget(
        Paragraph::new(more)
            .block(theme.block(
                &say("verdict", "more_title", &[]),
                app.verdict_focus == VerdictPane::More,
            ))
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        rest,
    );
}

/// The verdict pane: headline, what this relay does, scope, the fix, the open question
/// with every option, then owner, confidence and why; what must not be cut comes first.
fn head_lines(app: &App, session: &crate::report::Session, summary: &[String], theme: &Theme) -> Head {
    let v = &session.verdict;
    let headline = match v.family {
        Family::Healthy => theme.good(),
        Family::Inconclusive => theme.warn(),
        _ => theme.bad(),
    };
    let outcome_style = match v.relay.as_ref().map(|p| (p.outcome, p.chance.is_some())) {
        Some((Outcome::Deliver(Delivery::Cleartext), _)) => theme.warn(),
        // Some attempts defer: the mail gets through, late.
        Some((outcome, true)) if outcome.delivers() => theme.warn(),
        Some((outcome, _)) if outcome.delivers() => theme.good(),
        _ => theme.bad(),
    };
    let mut lines = vec![Line::styled(
        theme.text(&v.title).into_owned(),
        headline.add_modifier(ratatui::style::Modifier::BOLD),
    )];
    // Under the headline: whether the verdict is what holds this relay's mail.
    lines.extend(summary.iter().enumerate().map(|(i, l)| {
        let style = if i == 0 { outcome_style } else { theme.warn() };
        Line::styled(theme.text(l).into_owned(), style)
    }));
    if let crate::diagnose::Scope::SomeAddresses { failing, working } = &v.scope {
        lines.push(Line::styled(
            theme
                .text(&format!(
                    "host-specific: failing {}; fine {}",
                    failing.join(", "),
                    working.join(", ")
                ))
                .into_owned(),
            theme.warn(),
        ));
    }
    if let crate::diagnose::Scope::Grouped { addresses, total } = &v.scope {
        lines.push(Line::styled(
            theme
                .text(&say(
                    "verdict",
                    "grouped",
                    &[
                        ("count", &addresses.len().to_string()),
                        ("total", &total.to_string()),
                        ("addresses", &addresses.join(", ")),
                    ],
                ))
                .into_owned(),
            theme.warn(),
        ));
    }
    // The fix first: on a small terminal it is what must stay visible.
    lines.push(Line::raw(theme.text(&format!("fix: {}", v.fix)).into_owned()));
    // The open question and all its options, before the why: an answer needs them all.
    if let Some(question) = app.open_question() {
        lines.push(Line::styled(
            theme
                .text(&say(
                    "verdict",
                    "question",
                    &[
                        ("text", &question.text),
                        ("keys", &format!("1-{}", question.answers.len())),
                    ],
                ))
                .into_owned(),
            theme.warn().add_modifier(ratatui::style::Modifier::BOLD),
        ));
        let current = app.answers.get(&question.id);
        for (i, choice) in question.answers.iter().enumerate() {
            let mark = if current == Some(&choice.key) { "*" } else { " " };
            lines.push(Line::raw(
                theme.text(&format!("{mark}{}) {}", i + 1, choice.label)).into_owned(),
            ));
        }
    }
    // What must be seen ends here; what follows may scroll out of the pane.
    let must = lines.len();
    // Every group, the one the headline names first, each address once with its names.
    if !v.groups.is_empty() {
        lines.push(Line::styled(
            theme.text(&crate::diagnose::groups_title()).into_owned(),
            theme.title(),
        ));
        for (i, group) in v.groups.iter().enumerate() {
            let style = match group.blocking {
                Blocking::Blocks => theme.bad(),
                Blocking::BlocksVerifying | Blocking::BlocksRequiringTls => theme.warn(),
                Blocking::Delivers => theme.good(),
            };
            let heading = format!("{}. {}", i + 1, crate::diagnose::group_heading(group));
            lines.push(Line::styled(theme.text(&heading).into_owned(), style));
            for address in &group.addresses {
                let address = crate::diagnose::group_address(address, &session.check.resolution);
                lines.push(Line::raw(theme.text(&format!("   {address}")).into_owned()));
            }
            if let Some(fix) = crate::diagnose::group_fix(group) {
                lines.push(Line::styled(theme.text(&format!("   {fix}")).into_owned(), theme.dim()));
            }
        }
    }
    lines.push(Line::from(vec![
        Span::raw(format!(
            "{}, owner: {}, confidence: ",
            v.family.label(),
            v.owner.label()
        )),
        Span::styled(v.confidence.label().to_string(), theme.title()),
        Span::styled(
            theme.text(&format!(" ({})", v.confidence_reason)).into_owned(),
            theme.dim(),
        ),
    ]));
    lines.push(Line::styled(
        theme.text(&format!("why: {}", v.explanation)).into_owned(),
        theme.dim(),
    ));
    if let Some(next) = &v.next_check {
        lines.push(Line::styled(
            theme.text(&format!("next check: {next}")).into_owned(),
            theme.warn(),
        ));
    }
    if let Some(t) = &v.tlsrpt {
        lines.push(Line::styled(
            theme.text(&format!("TLS-RPT: {t}")).into_owned(),
            theme.dim(),
        ));
    }
    Head { lines, must }
}

/// The verdict pane's lines; the first `must` (headline to the question's last option)
/// are what the pane's height is made for.
struct Head {
    lines: Vec<Line<'static>>,
    must: usize,
}

/// The prediction's summary (under the headline) and details (in the scrolled pane).
fn prediction(session: &crate::report::Session) -> (Vec<String>, Vec<String>) {
    let v = &session.verdict;
    v.relay
        .as_ref()
        .map(|p| split_prediction(crate::report::relay::prediction(p, v)))
        .unwrap_or_default()
}

/// How far the verdict pane or the checklist, relay and policy pane scrolls.
pub(super) fn room(app: &App, area: Rect, theme: &Theme, pane: super::Scrolled) -> super::Room {
    let Some(session) = &app.session else {
        return super::room_for(Vec::new(), area, true);
    };
    let (summary, details) = prediction(session);
    let Head { lines, must } = head_lines(app, session, &summary, theme);
    let [head, _, rest] = panes(area, &lines, must, session.verdict.evidence.len());
    match pane {
        super::Scrolled::VerdictHead => super::room_for(lines, head, true),
        _ => super::room_for(more_lines(app, session, &details, theme), rest, true),
    }
}

/// The scrolled pane: checklist, workaround, this relay, the recipient's policy.
fn more_lines(app: &App, session: &crate::report::Session, details: &[String], theme: &Theme) -> Vec<Line<'static>> {
    let v = &session.verdict;
    let mut more = Vec::new();
    // What arrived after the sessions (OpenSSL, the follow-up, this relay's client, the
    // scan) comes first, so `s` or a follow-up shows here as it lands.
    for target in app.run.iter().flat_map(|r| &r.targets) {
        let Some(probe) = app.results(target).last().copied() else {
            continue;
        };
        let extras = super::address_extras(app, probe, theme);
        if extras.is_empty() {
            continue;
        }
        more.push(Line::styled(
            theme
                .text(&format!("{} [{}]", target.mx, target.address.ip()))
                .into_owned(),
            theme.title(),
        ));
        more.extend(extras.into_iter().map(|mut l| {
            l.spans.insert(0, Span::raw("  "));
            l
        }));
    }
    if !more.is_empty() {
        more.push(Line::raw(""));
    }
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

/// The verdict, evidence and scrolled panes. The verdict pane gets the rows its lines
/// need first (it scrolls when even that is not enough), the evidence up to a few rows,
/// the scrolled pane what is left: two rows of text, down to one only when the
/// headline, the fix and every option of the open question need that row.
fn panes(area: Rect, head: &[Line<'_>], must: usize, evidence: usize) -> [Rect; 3] {
    const EVIDENCE_MIN: u16 = 3;
    const REST_MIN: u16 = 3;
    const REST: u16 = 4;
    let width = area.width.saturating_sub(2);
    let rows = |lines: &[Line<'_>]| {
        u16::try_from(super::wrapped_rows(lines.to_vec(), width))
            .unwrap_or(u16::MAX)
            .saturating_add(2)
    };
    let all = rows(head).min(area.height.saturating_sub(EVIDENCE_MIN + REST));
    let must = rows(&head[..must.min(head.len())]).min(area.height.saturating_sub(EVIDENCE_MIN + REST_MIN));
    let head = all.max(must).max(3);
    let evidence = u16::try_from(evidence)
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .clamp(EVIDENCE_MIN, 6)
        .min(area.height.saturating_sub(head + REST).max(EVIDENCE_MIN));
    area.layout(&Layout::vertical([
        Constraint::Length(head),
        Constraint::Length(evidence),
        Constraint::Min(REST_MIN),
    ]))
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
