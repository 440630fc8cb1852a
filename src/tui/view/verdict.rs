//! Verdict: cause, owner, confidence, evidence (Enter jumps to it), fix,
//! workaround and the retry checklist.
//!
//! ```text
//! +- verdict ---------------------------------------------------------+
//! | The server's TLS layer dies right after it says 220                |
//! | remote MX broken · owner recipient · confidence medium (why)      |
//! | fix: ...                                                          |
//! +- evidence (Enter: show) ------------------------------------------+
//! | > mx2 [192.0.2.2] transcript line 11: closed after 220 ...         |
//! +- checklist, workaround, recipient policy (PgUp/PgDn) -------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::Theme;
use crate::diagnose::{CheckStatus, EvidenceAt, Family};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(session) = &app.session else {
        frame.render_widget(
            Paragraph::new("No verdict yet.").block(theme.block("verdict", true)),
            area,
        );
        return;
    };
    let v = &session.verdict;
    let [head, evidence, rest] = area.layout(&Layout::vertical([
        Constraint::Length(10),
        Constraint::Min(3),
        Constraint::Percentage(40),
    ]));
    let headline = match v.family {
        Family::Healthy => theme.good(),
        Family::Inconclusive => theme.warn(),
        _ => theme.bad(),
    };
    let mut lines = vec![
        Line::styled(v.title.clone(), headline.add_modifier(ratatui::style::Modifier::BOLD)),
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
    ];
    if let crate::diagnose::Scope::SomeAddresses { failing, working } = &v.scope {
        lines.insert(
            2,
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
    frame.render_widget(
        Paragraph::new(more)
            .block(theme.block("before you retry; recipient policy (PgUp/PgDn)", false))
            .wrap(Wrap { trim: false })
            .scroll((app.verdict_scroll, 0)),
        rest,
    );
}
