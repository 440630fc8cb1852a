//! Triage: the decision tree on the left, the live MX × address matrix on the right.
//!
//! ```text
//! +- steps ----------------------+- MX x address -------------------+
//! | [yes] Does the domain exist? | MX 10 mx1.example.com            |
//! | [yes] finding: Did the ser...|  192.0.2.1  OK                   |
//! | [ask] Seen from elsewhere?   |    TLSv1.3 ..., 40 ms            |
//! | [wait] (no result yet)       | MX 20 mx2.example.com            |
//! +- this step ------------------+  192.0.2.2  | TLS handshake      |
//! | the question, every option   |    3 s in TLS handshake; gives   |
//! | (sized to fit them), then    |    up after 30 s                 |
//! | what it checks and why       |    following up… (after a fail)  |
//! +------------------------------+----------------------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{Theme, spinner, timeline};
use crate::diagnose::{Outcome, Step, Tree};
use crate::model::Stage;
use crate::tui::app::{App, TriagePane};
use crate::tui::wording::say;

/// How a step reads: its answer to the question it asks (yes, no, the operator's
/// answer), `ask` while a question waits, `wait` while its evidence is not in; a step
/// whose check found what it looks for is the finding, and says so in words (colour is
/// never the only signal). The third value starts the title.
pub fn step_state(app: &App, step: &Step, theme: &Theme) -> (String, ratatui::style::Style, String) {
    let finished = app.run.as_ref().is_some_and(|r| r.finished());
    // While probing, the walk runs on partial evidence: a step with no probe result yet
    // can come out as the finding ("no addresses" before the first address answered).
    // Only a DNS check the MX lookup settled, and passed, shows its result this early.
    if !finished {
        let settled = step.outcome == Outcome::No
            && Tree::embedded()
                .node(&step.node)
                .and_then(|n| n.check.as_deref())
                .is_some_and(|check| check.starts_with("dns_"));
        if !settled {
            return (format!("[{}]", say("steps", "wait", &[])), theme.dim(), String::new());
        }
    }
    let answer = |found: bool| format!("[{:<3}]", check_word(&step.node, found));
    match &step.outcome {
        Outcome::No => (answer(false), theme.good(), String::new()),
        Outcome::Yes => (answer(true), theme.bad(), say("steps", "finding", &[])),
        _ if step.unanswered => (format!("[{}]", say("steps", "ask", &[])), theme.warn(), String::new()),
        Outcome::Answer(key) => (
            format!("[{}]", short_answer(&step.node, key)),
            theme.good(),
            String::new(),
        ),
    }
}

/// A check's answer to the question its title asks: yes when it found what it looks
/// for, unless the title asks the other way round ("Does the server offer STARTTLS?" is
/// answered no when the check finds it missing). The flowchart labels its branches the
/// same way, so both screens say the same of one step.
pub(super) fn check_word(node: &str, found: bool) -> String {
    let other_way = say("steps", "asked_the_other_way", &[])
        .split_whitespace()
        .any(|id| id == node);
    let key = if found != other_way { "yes" } else { "no" };
    say("steps", key, &[])
}

/// The operator's answer as its label starts ("Yes", "Don't know", "Opportunistic").
pub(super) fn short_answer(node: &str, key: &str) -> String {
    let label = Tree::embedded()
        .question_at(node)
        .and_then(|q| q.answers.iter().find(|a| a.key == key))
        .map_or(key, |a| a.label.as_str());
    let short = label.split([',', ':', '(', '/']).next().unwrap_or(label).trim();
    // Whole words, up to 14 columns: enough to tell the answers of one question apart.
    let mut out = String::new();
    for word in short.split_whitespace() {
        if !out.is_empty() && out.chars().count() + 1 + word.chars().count() > 14 {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let columns = |share: u16| {
        area.layout(&Layout::horizontal([
            Constraint::Percentage(share),
            Constraint::Percentage(100 - share),
        ]))
    };
    // A question's options get the rows they need first (the steps list keeps five):
    // an operator answers only what they can see.
    let question_rows = |left: Rect| {
        app.focused_question().map_or(0, |q| {
            let text = std::iter::once(Line::raw(q.text.clone()))
                .chain(q.answers.iter().map(|c| Line::raw(format!(" 1) {}", c.label))))
                .collect();
            u16::try_from(super::wrapped_rows(text, left.width.saturating_sub(2))).unwrap_or(u16::MAX)
        })
    };
    // When they do not fit the usual column, the column widens (the matrix narrows).
    let [mut left, mut right] = columns(48);
    let mut question = question_rows(left);
    if question.saturating_add(2) > left.height.saturating_sub(5) {
        [left, right] = columns(60);
        question = question_rows(left);
    }
    let lines = explanation(app, theme);
    let explain_height = (left.height * 45 / 100)
        .max(question.saturating_add(2))
        .min(left.height.saturating_sub(5));
    let [steps, explain] = left.layout(&Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(explain_height),
    ]));
    render_steps(frame, steps, app, theme);
    render_explanation(frame, explain, app, lines);
    render_matrix(frame, right, app, theme);
}

fn render_steps(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.triage_pane == TriagePane::Steps;
    let items: Vec<ListItem> = match &app.session {
        Some(session) => session
            .verdict
            .steps
            .iter()
            .map(|step| {
                let (state, style, lead) = step_state(app, step, theme);
                ListItem::new(Line::from(vec![
                    Span::styled(state, style),
                    Span::raw(" "),
                    Span::styled(lead, style),
                    Span::raw(step.title.clone()),
                ]))
            })
            .collect(),
        None => vec![ListItem::new(match app.run.as_ref().and_then(|r| r.error.clone()) {
            Some(error) => Line::styled(error, theme.bad()),
            None => Line::styled(format!("[ {} ] resolving ...", spinner(app)), theme.warn()),
        })],
    };
    // The selection keeps the focused step in view even when this pane is not focused.
    let mut state = ListState::default().with_selected(Some(app.step_selected));
    let highlight = if focused {
        theme.selected()
    } else {
        ratatui::style::Style::new()
    };
    let list = List::new(items)
        .block(theme.block("decision steps", focused))
        .highlight_style(highlight);
    frame.render_stateful_widget(list, area, &mut state);
}

/// The focused step: its question and every option first, then what it checks.
fn explanation(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let tree = Tree::embedded();
    let mut lines = Vec::new();
    let step = app
        .session
        .as_ref()
        .and_then(|s| s.verdict.steps.get(app.step_selected));
    if let Some((step, node)) = step.and_then(|s| Some((s, tree.node(&s.node)?))) {
        // A check's answer, over what it checks (a question shows its answer by its options).
        if tree.question_at(&node.id).is_none() {
            let (state, style, lead) = step_state(app, step, theme);
            lines.push(Line::from(vec![
                Span::styled(format!("{state} {lead}"), style),
                Span::styled(step.title.clone(), theme.title()),
            ]));
        }
        // A question comes first: it is what the operator has to act on.
        if let Some(question) = tree.question_at(&node.id) {
            lines.push(Line::styled(question.text.clone(), theme.title()));
            let current = app.answers.get(&question.id);
            for (i, choice) in question.answers.iter().enumerate() {
                let mark = if current == Some(&choice.key) { "*" } else { " " };
                lines.push(Line::raw(format!("{mark}{}) {}", i + 1, choice.label)));
            }
        }
        lines.push(Line::styled(node.explain.clone(), theme.dim()));
    } else if app.run.as_ref().is_some_and(|r| r.finished()) {
        lines.push(Line::raw("Press v for the verdict."));
    }
    lines
}

fn render_explanation(frame: &mut Frame, area: Rect, app: &App, lines: Vec<Line<'static>>) {
    let theme = Theme::of(app);
    let title = if app.run.as_ref().is_some_and(|r| r.finished()) {
        "this step (v: verdict)"
    } else {
        "this step"
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(title, false))
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// One matrix entry: the address and its state, then what happened and how long it took.
pub fn live_row(app: &App, index: usize, theme: &Theme) -> Vec<Line<'static>> {
    let Some((target, stage)) = app
        .run
        .as_ref()
        .and_then(|r| Some((r.targets.get(index)?, r.stages.get(index).copied().flatten())))
    else {
        return Vec::new();
    };
    let results = app.results(target);
    let address = target.address.ip().to_string();
    let (state, style, detail) = match results.last() {
        None => {
            let label = stage.map_or("waiting", |s| s.label());
            (
                format!("{} {label}", spinner(app)),
                theme.warn(),
                pending_text(app, index),
            )
        }
        Some(p) => match &p.failure {
            Some(f) => (format!("FAIL at {}", p.stage.label()), theme.bad(), f.summary()),
            None if p.is_secure() => (
                "OK".into(),
                theme.good(),
                p.tls
                    .as_ref()
                    .map(|t| format!("{} {}", t.version, t.cipher_suite))
                    .unwrap_or_default(),
            ),
            None => (
                "CERT".into(),
                theme.warn(),
                "TLS works, certificate fails verification".into(),
            ),
        },
    };
    let attempts = if results.len() > 1 {
        let failed = results.iter().filter(|p| p.failure.is_some()).count();
        format!(" ({failed} of {} attempts failed)", results.len())
    } else {
        String::new()
    };
    // The follow-up of a failed handshake runs on after the session: say so until it lands.
    // On a row of its own, so a long failure line cannot push it out of the pane.
    let following = results.last().filter(|p| app.following_up(p)).map(|_| {
        Line::styled(
            format!("   {}", say("address", "following_up", &[("text", spinner(app))])),
            theme.warn(),
        )
    });
    let mut lines = vec![
        Line::from(vec![Span::raw(format!(" {address:<16} ")), Span::styled(state, style)]),
        Line::styled(theme.text(&format!("   {detail}{attempts}")).into_owned(), theme.dim()),
    ];
    lines.extend(time_strip(app, index, theme));
    lines.extend(following);
    lines
}

/// Columns of the time strip under each address.
const STRIP: usize = 24;

/// The address's session as a strip of stage letters, to the scale of the slowest
/// address of the run, so the slow one stands out down the matrix.
fn time_strip(app: &App, index: usize, theme: &Theme) -> Option<Line<'static>> {
    let run = app.run.as_ref()?;
    let target = run.targets.get(index)?;
    let scale = app
        .session
        .as_ref()
        .map(|s| s.check.probes.iter().map(|p| p.timings.total_ms).max().unwrap_or(0))
        .unwrap_or(0);
    let last = app.results(target).last().copied();
    let (bars, running) = match last {
        Some(probe) if run.live.get(index).is_none_or(Vec::is_empty) => (timeline::of_probe(probe), false),
        _ => (live_marks(run, index), true),
    };
    if bars.is_empty() {
        // A session saved before stages were recorded: its length, at least.
        return last.map(|p| Line::styled(format!("   {}", timeline::duration(p.timings.total_ms)), theme.dim()));
    }
    Some(timeline::strip(&bars, scale, STRIP, running, theme))
}

/// The bars of an attempt still running, from the stages the engine reported.
pub(super) fn live_marks(run: &crate::tui::app::Run, index: usize) -> Vec<timeline::Bar> {
    let log = run.stage_log.get(index).map(Vec::as_slice).unwrap_or_default();
    let attempt = log.iter().rposition(|(_, s)| *s == Stage::Connect).unwrap_or(0);
    let Some((base, _)) = log.get(attempt) else {
        return Vec::new();
    };
    let ms = |d: std::time::Duration| d.saturating_sub(*base).as_millis() as u64;
    let marks: Vec<crate::model::StageMark> = log[attempt..]
        .iter()
        .map(|(at, stage)| crate::model::StageMark {
            stage: *stage,
            at_ms: ms(*at),
        })
        .collect();
    timeline::bars(&marks, ms(run.elapsed), false)
}

/// How long the address's current stage has run and the timeout that ends it.
pub(super) fn pending_text(app: &App, index: usize) -> String {
    let Some(run) = &app.run else {
        return String::new();
    };
    let log = run.stage_log.get(index).map(Vec::as_slice).unwrap_or_default();
    let Some((since, stage)) = log.last() else {
        let elapsed = run.elapsed.as_secs().to_string();
        return say("run", "waiting", &[("elapsed", &elapsed)]);
    };
    let t = &app.settings.timeouts;
    let timeout = match stage {
        Stage::Connect => t.connect,
        Stage::TlsHandshake => t.tls,
        _ => t.command,
    };
    let elapsed = run.elapsed.saturating_sub(*since).as_secs().to_string();
    say(
        "run",
        "pending",
        &[
            ("elapsed", &elapsed),
            ("stage", stage.label()),
            ("timeout", &timeout.as_secs().to_string()),
        ],
    )
}

fn render_matrix(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.triage_pane == TriagePane::Matrix;
    let Some(run) = &app.run else {
        frame.render_widget(Paragraph::new("").block(theme.block("MX x address", focused)), area);
        return;
    };
    let mut items = Vec::new();
    let mut selected_row = None;
    let mut last_mx: Option<&str> = None;
    let resolution = app.session.as_ref().map(|s| &s.check.resolution);
    let hosts = resolution.map(|r| r.hosts.as_slice()).unwrap_or_default();
    for (index, target) in run.targets.iter().enumerate() {
        if last_mx != Some(target.mx.as_str()) {
            let preference = hosts
                .iter()
                .find(|h| h.name == target.mx)
                .and_then(|h| h.preference)
                .map_or(String::new(), |p| format!("MX {p} "));
            items.push(ListItem::new(Line::styled(
                format!("{preference}{}", theme.text(&target.mx)),
                theme.title(),
            )));
            last_mx = Some(target.mx.as_str());
        }
        if index == app.address_selected {
            selected_row = Some(items.len());
        }
        items.push(ListItem::new(live_row(app, index, theme)));
    }
    if items.is_empty() {
        let text = match (resolution, &run.error) {
            (_, Some(error)) => error.clone(),
            (Some(r), None) => crate::report::describe_resolution(r),
            (None, None) => format!("{} looking up {} ...", spinner(app), run.target),
        };
        items.push(ListItem::new(theme.text(&text).into_owned()));
    }
    let mut state = ListState::default().with_selected(if focused { selected_row } else { None });
    let list = List::new(items)
        .block(theme.block("MX x address (Enter: detail)", focused))
        .highlight_style(theme.selected());
    frame.render_stateful_widget(list, area, &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_asked_the_other_way_is_a_check_of_the_tree() {
        let tree = Tree::embedded();
        for id in say("steps", "asked_the_other_way", &[]).split_whitespace() {
            let node = tree.node(id);
            assert!(node.is_some_and(|n| n.check.is_some()), "{id} is no check step");
        }
    }

    #[test]
    fn an_answer_reads_as_its_label_starts() {
        assert_eq!(short_answer("ask-sender-policy-cert", "unknown"), "Don't know");
        assert_eq!(short_answer("ask-sender-policy-cert", "verify"), "TLS required…");
        assert_eq!(short_answer("no-such-node", "works"), "works");
    }
}
