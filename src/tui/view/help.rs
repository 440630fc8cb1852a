//! Help: every binding of the keymap, grouped by where it applies.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Theme, overlay};
use crate::tui::keymap::{KEYMAP, Scope};

pub fn render(frame: &mut Frame, area: Rect, theme: &Theme) {
    let groups = [
        (Scope::Always, "anywhere"),
        (Scope::NotTyping, "outside text fields"),
        (Scope::IntakeTyping, "intake, typing"),
        (Scope::IntakeEditing, "intake, editing option"),
        (Scope::IntakeList, "intake, lists"),
        (Scope::Triage, "triage"),
        (Scope::TriageMatrix, "triage, address matrix"),
        (Scope::Question, "triage, on a question"),
        (Scope::Detail, "detail"),
        (Scope::Verdict, "verdict"),
        (Scope::VerdictFlush, "verdict, relay delivers"),
        (Scope::Flowchart, "decision path (t)"),
        (Scope::FlushPane, "retry result"),
        (Scope::Export, "export"),
        (Scope::ExportTyping, "export, typing a path"),
    ];
    let mut lines = Vec::new();
    for (scope, name) in groups {
        let entries: Vec<String> = KEYMAP
            .iter()
            .filter(|b| b.scope == scope && !b.keys.is_empty())
            .map(|b| format!("{} {}", b.keys, b.label))
            .collect();
        if entries.is_empty() {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<24}"), theme.title()),
            Span::raw(entries.join(", ")),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw("Any key closes this help."));
    overlay(frame, area, theme, "Help", lines);
}
