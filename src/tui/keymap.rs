//! The one keymap: it dispatches keys, and the footer and the help screen are
//! generated from it, so what is shown is always what works.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere, even while typing.
    Always,
    /// Everywhere except while typing in a text field.
    NotTyping,
    /// Typing in an Intake text field.
    IntakeTyping,
    /// Editing one option of the Intake form.
    IntakeEditing,
    /// Intake with a list (options, scenarios) focused.
    IntakeList,
    Triage,
    /// Triage with the address matrix focused.
    TriageMatrix,
    Detail,
    Verdict,
    /// The decision path drawn as a flowchart (reached from Verdict).
    Flowchart,
    /// Verdict, when this relay is Postfix and would deliver now: a retry is offered.
    VerdictFlush,
    /// The retry's result pane is open over the screen.
    FlushPane,
    Export,
    /// Typing a path on the Export screen.
    ExportTyping,
    /// A question waits for an answer on the focused tree step.
    Question,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Back,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    /// Home: the first item, or the top of a scrolling pane.
    Top,
    /// End: the last item, or the end of a scrolling pane.
    Bottom,
    Select,
    Run,
    Rerun,
    OpenDetail,
    OpenVerdict,
    /// The decision path as a flowchart, from Verdict.
    OpenFlowchart,
    Export,
    ExportPath,
    ToggleWide,
    Scan,
    /// Ask to retry the destination's deferred mail now (confirmed with `y`).
    Flush,
    /// Close the pane on top.
    Close,
    Answer(u8),
}

pub struct Binding {
    pub scope: Scope,
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub action: Action,
    /// Shown in the footer and the help screen.
    pub keys: &'static str,
    pub label: &'static str,
}

const fn bind(scope: Scope, code: KeyCode, action: Action, keys: &'static str, label: &'static str) -> Binding {
    Binding {
        scope,
        code,
        modifiers: KeyModifiers::NONE,
        action,
        keys,
        label,
    }
}

const fn ctrl(scope: Scope, c: char, action: Action, keys: &'static str, label: &'static str) -> Binding {
    Binding {
        scope,
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
        action,
        keys,
        label,
    }
}

use Action as A;
use KeyCode as K;
use Scope as S;

/// Every binding. Order matters: the first match wins, and the footer lists them in order.
pub const KEYMAP: &[Binding] = &[
    ctrl(S::Always, 'c', A::Quit, "C-c", "quit"),
    bind(S::Question, K::Char('1'), A::Answer(1), "1-4", "answer"),
    bind(S::Question, K::Char('2'), A::Answer(2), "", ""),
    bind(S::Question, K::Char('3'), A::Answer(3), "", ""),
    bind(S::Question, K::Char('4'), A::Answer(4), "", ""),
    bind(S::FlushPane, K::Esc, A::Close, "Esc", "close"),
    bind(S::FlushPane, K::Up, A::Up, "j/k", "scroll"),
    bind(S::FlushPane, K::Char('k'), A::Up, "", ""),
    bind(S::FlushPane, K::Down, A::Down, "", ""),
    bind(S::FlushPane, K::Char('j'), A::Down, "", ""),
    bind(S::FlushPane, K::PageUp, A::PageUp, "", ""),
    bind(S::FlushPane, K::PageDown, A::PageDown, "", ""),
    bind(S::FlushPane, K::Home, A::Top, "", ""),
    bind(S::FlushPane, K::End, A::Bottom, "", ""),
    bind(S::IntakeEditing, K::Esc, A::Back, "Esc", "cancel"),
    bind(S::IntakeEditing, K::Enter, A::Select, "Enter", "keep"),
    ctrl(S::IntakeTyping, 'r', A::Run, "C-r", "run"),
    bind(S::IntakeTyping, K::Tab, A::NextPane, "Tab", "next"),
    bind(S::IntakeTyping, K::BackTab, A::PrevPane, "S-Tab", "previous"),
    bind(S::IntakeTyping, K::F(1), A::Help, "F1", "help"),
    bind(S::IntakeTyping, K::Esc, A::NextPane, "", ""),
    bind(S::IntakeList, K::Enter, A::Select, "Enter", "run / edit"),
    ctrl(S::IntakeList, 'r', A::Run, "C-r", "run"),
    bind(S::ExportTyping, K::Enter, A::Select, "Enter", "write"),
    bind(S::ExportTyping, K::Esc, A::Back, "Esc", "cancel"),
    bind(S::TriageMatrix, K::Enter, A::OpenDetail, "Enter", "detail"),
    bind(S::Triage, K::Char('v'), A::OpenVerdict, "v", "verdict"),
    bind(S::Triage, K::Char('r'), A::Rerun, "r", "re-run"),
    bind(S::Detail, K::Char('w'), A::ToggleWide, "w", "widen"),
    bind(S::Detail, K::Char('v'), A::OpenVerdict, "v", "verdict"),
    bind(S::Verdict, K::Enter, A::Select, "Enter", "evidence"),
    bind(S::Verdict, K::Char('r'), A::Rerun, "r", "re-run"),
    bind(S::Verdict, K::Char('e'), A::Export, "e", "export"),
    bind(S::Verdict, K::Char('s'), A::Scan, "s", "scan"),
    bind(S::Verdict, K::Char('t'), A::OpenFlowchart, "t", "tree"),
    bind(S::Flowchart, K::Char('t'), A::OpenVerdict, "t", "verdict"),
    bind(S::VerdictFlush, K::Char('f'), A::Flush, "f", "retry"),
    bind(S::Export, K::Char('p'), A::ExportPath, "p", "save as"),
    bind(S::Export, K::Char('e'), A::Export, "e", "export"),
    bind(S::NotTyping, K::Char('?'), A::Help, "?", "help"),
    bind(S::NotTyping, K::Esc, A::Back, "Esc", "back"),
    bind(S::NotTyping, K::Char('q'), A::Quit, "q", "quit"),
    bind(S::NotTyping, K::Tab, A::NextPane, "Tab", "pane"),
    bind(S::NotTyping, K::BackTab, A::PrevPane, "", ""),
    bind(S::NotTyping, K::Up, A::Up, "j/k", "move"),
    bind(S::NotTyping, K::Char('k'), A::Up, "", ""),
    bind(S::NotTyping, K::Down, A::Down, "", ""),
    bind(S::NotTyping, K::Char('j'), A::Down, "", ""),
    bind(S::NotTyping, K::PageUp, A::PageUp, "PgUp/Dn", "scroll"),
    bind(S::NotTyping, K::PageDown, A::PageDown, "", ""),
    bind(S::NotTyping, K::Home, A::Top, "Home/End", "ends"),
    bind(S::NotTyping, K::End, A::Bottom, "", ""),
];

impl Binding {
    fn matches(&self, key: &KeyEvent) -> bool {
        // Some terminals report Shift-Tab as Tab with SHIFT; shift is part of the character otherwise.
        let code = match key.code {
            KeyCode::Tab if key.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            code => code,
        };
        self.code == code && key.modifiers - KeyModifiers::SHIFT == self.modifiers
    }
}

/// The action bound to `key` in the first of `scopes` that has one.
pub fn lookup(scopes: &[Scope], key: &KeyEvent) -> Option<Action> {
    KEYMAP
        .iter()
        .find(|b| scopes.contains(&b.scope) && b.matches(key))
        .map(|b| b.action)
}

/// The footer for `scopes` in `width` columns: the screen's own keys first, then the
/// general ones, then those that work everywhere, each label once, only actions that
/// do something here (`works`), as many as fit whole; the help key always comes last,
/// since help lists the rest.
pub fn footer_fit(scopes: &[Scope], width: usize, works: impl Fn(Action) -> bool) -> Vec<(&'static str, &'static str)> {
    use unicode_width::UnicodeWidthStr;
    let general = |s: &Scope| matches!(s, Scope::Always | Scope::NotTyping);
    let order: Vec<Scope> = scopes
        .iter()
        .copied()
        .filter(|s| !general(s))
        .chain(scopes.iter().copied().filter(|s| *s == Scope::NotTyping))
        .chain(scopes.iter().copied().filter(|s| *s == Scope::Always))
        .collect();
    let mut labelled: Vec<&Binding> = Vec::new();
    for scope in order {
        for binding in KEYMAP.iter().filter(|b| b.scope == scope && !b.keys.is_empty()) {
            if works(binding.action) && !labelled.iter().any(|b| b.label == binding.label) {
                labelled.push(binding);
            }
        }
    }
    let size = |b: &Binding| b.keys.width() + 1 + b.label.width();
    let help = labelled
        .iter()
        .position(|b| b.action == Action::Help)
        .map(|i| labelled.remove(i));
    let mut used = help.map_or(0, &size);
    let mut out = Vec::new();
    for binding in labelled {
        let more = size(binding) + if used == 0 { 0 } else { FOOTER_GAP.len() };
        if used + more <= width {
            used += more;
            out.push((binding.keys, binding.label));
        }
    }
    out.extend(help.map(|b| (b.keys, b.label)));
    out
}

/// Between two footer entries.
pub const FOOTER_GAP: &str = "  ";

/// The labelled bindings of `scopes`, for the footer.
pub fn footer(scopes: &[Scope]) -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<&str> = Vec::new();
    KEYMAP
        .iter()
        .filter(|b| scopes.contains(&b.scope) && !b.keys.is_empty())
        .filter(|b| {
            let fresh = !seen.contains(&b.label);
            seen.push(b.label);
            fresh
        })
        .map(|b| (b.keys, b.label))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_scopes_do_not_steal_letters() {
        assert_eq!(
            lookup(&[Scope::Always, Scope::IntakeTyping], &key(KeyCode::Char('q'))),
            None
        );
        assert_eq!(
            lookup(&[Scope::Always, Scope::NotTyping], &key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(&[Scope::Always, Scope::IntakeTyping], &ctrl_c),
            Some(Action::Quit)
        );
    }

    #[test]
    fn footer_shows_each_label_once_and_hides_unlabelled() {
        let footer = footer(&[Scope::Always, Scope::Triage, Scope::NotTyping]);
        assert!(footer.contains(&("v", "verdict")));
        assert!(
            !footer.contains(&("Enter", "detail")),
            "Enter opens detail only from the matrix"
        );
        assert_eq!(footer.iter().filter(|(_, l)| *l == "move").count(), 1);
        assert!(footer.iter().all(|(k, _)| !k.is_empty()));
    }

    #[test]
    fn a_fitted_footer_keeps_whole_entries_and_ends_with_help() {
        let scopes = [Scope::Always, Scope::Verdict, Scope::NotTyping];
        let fitted = footer_fit(&scopes, 40, |_| true);
        let text: Vec<String> = fitted.iter().map(|(k, l)| format!("{k} {l}")).collect();
        assert!(text.join(FOOTER_GAP).len() <= 40, "{text:?}");
        assert_eq!(
            fitted.first(),
            Some(&("Enter", "evidence")),
            "the screen's own keys first"
        );
        assert_eq!(fitted.last(), Some(&("?", "help")));
        // An action that does nothing here is not offered.
        let fitted = footer_fit(&scopes, 200, |a| a != Action::NextPane);
        assert!(!fitted.iter().any(|(k, _)| *k == "Tab"), "{fitted:?}");
        // q quit is shorter than C-c and comes first outside text fields; C-c while typing.
        assert!(fitted.contains(&("q", "quit")) && !fitted.contains(&("C-c", "quit")));
        let typing = footer_fit(&[Scope::Always, Scope::IntakeTyping], 200, |_| true);
        assert!(typing.contains(&("C-c", "quit")) && typing.last() == Some(&("F1", "help")));
    }

    #[test]
    fn shift_tab_variants_both_go_back() {
        let shifted = KeyEvent::new(KeyCode::Tab, KeyModifiers::SHIFT);
        assert_eq!(lookup(&[Scope::NotTyping], &shifted), Some(Action::PrevPane));
        assert_eq!(
            lookup(&[Scope::NotTyping], &key(KeyCode::BackTab)),
            Some(Action::PrevPane)
        );
    }
}
