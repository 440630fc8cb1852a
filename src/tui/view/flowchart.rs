//! Flowchart: the walk through the decision tree drawn as connected boxes, the way
//! DESIGN.md speaks of the tree, instead of the checklist Triage shows. Each box is a
//! step's question; the line down from it carries the branch taken; beside it, dimmed,
//! the branches not taken and where they would have led; the verdict is the leaf.
//!
//! ```text
//! +- decision path (PgDn/End: on to the verdict; t: back) * ---------------+
//! |  | the answer taken; beside a box: the other answers -> where they lead |
//! |+-----------------------------------+                                    |
//! || 1. Is the recipient domain        |  yes -> verdict: The recipient ... |
//! ||    missing from DNS (NXDOMAIN)?   |                                    |
//! |+-+---------------------------------+                                    |
//! |  | no                                                                   |
//! |+.v.................................+                                    |
//! |: 2. pending: Does this relay check :  1) Opportunistic -> verdict: ...  |
//! |:    certificates for this          :  2) TLS required -> verdict: ...   |
//! |+.+.................................+                                    |
//! |  | not answered yet, taken as: 4) Don't know (answer it on Verdict, 1-4)|
//! |#=v=================================#                                    |
//! |# 3. finding: Has a certificate     #  no -> Is a certificate not yet... |
//! |#=+=================================#                                    |
//! |  | yes                                                                  |
//! |+=v===================================================================+ |
//! || verdict: The server's certificate has expired                       | |
//! || certificate problem, owner: recipient, confidence: medium           | |
//! |+=====================================================================+ |
//! +-------------------------------------------------------------------------+
//! ```
//!
//! The finding's box is drawn heavier and says `finding:`, a question not answered yet
//! is dashed and says it is pending: every state is in the characters, so it reads the
//! same under NO_COLOR, and an ASCII set of the same shapes serves a non-UTF-8 terminal.
//! The lines are built to the pane's width by [`lines`], a pure function, and drawn
//! without wrapping, so the scroll bound counts exactly the rows drawn.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Theme;
use crate::diagnose::tree::{Target, Tree};
use crate::diagnose::{Family, Outcome, Step, Verdict};
use crate::tui::app::App;
use crate::tui::wording::say;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let title = say("flowchart", "title", &[]);
    let Some(session) = &app.session else {
        frame.render_widget(
            Paragraph::new(say("flowchart", "none", &[])).block(theme.block(&title, true)),
            area,
        );
        return;
    };
    let lines = lines(&session.verdict, Tree::embedded(), area.width.saturating_sub(2), theme);
    let scroll = app
        .flowchart_scroll
        .min(super::room_for(lines.clone(), area, false).max);
    frame.render_widget(
        Paragraph::new(lines)
            .block(theme.block(&title, true))
            .scroll((scroll, 0)),
        area,
    );
}

/// How far the flowchart scrolls at `area`: the same lines as the drawing.
pub(super) fn room(app: &App, area: Rect, theme: &Theme) -> super::Room {
    let lines = app.session.as_ref().map_or_else(Vec::new, |s| {
        lines(&s.verdict, Tree::embedded(), area.width.saturating_sub(2), theme)
    });
    super::room_for(lines, area, false)
}

/// The characters of one kind of box. Each kind differs in its characters, not only
/// its colour, so the finding and a pending question stand out without colour.
struct Glyphs {
    top_left: &'static str,
    top_right: &'static str,
    bottom_left: &'static str,
    bottom_right: &'static str,
    horizontal: &'static str,
    vertical: &'static str,
    /// Where the line down leaves the bottom border.
    out: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Step,
    Finding,
    Pending,
    Leaf,
}

fn glyphs(kind: Kind, ascii: bool) -> Glyphs {
    let g = |tl, tr, bl, br, h, v, out| Glyphs {
        top_left: tl,
        top_right: tr,
        bottom_left: bl,
        bottom_right: br,
        horizontal: h,
        vertical: v,
        out,
    };
    match (kind, ascii) {
        (Kind::Step, false) => g("┌", "┐", "└", "┘", "─", "│", "┬"),
        (Kind::Finding, false) => g("┏", "┓", "┗", "┛", "━", "┃", "┯"),
        (Kind::Pending, false) => g("┌", "┐", "└", "┘", "┄", "┆", "┬"),
        (Kind::Leaf, false) => g("╭", "╮", "╰", "╯", "─", "│", "─"),
        (Kind::Step, true) => g("+", "+", "+", "+", "-", "|", "+"),
        (Kind::Finding, true) => g("#", "#", "#", "#", "=", "#", "+"),
        (Kind::Pending, true) => g("+", "+", "+", "+", ".", ":", "+"),
        (Kind::Leaf, true) => g("+", "+", "+", "+", "=", "|", "="),
    }
}

/// The line down between boxes, the arrow into the next box, `→`, and `…`.
struct Marks {
    down: &'static str,
    arrow_in: &'static str,
    to: &'static str,
    more: &'static str,
}

fn marks(ascii: bool) -> Marks {
    if ascii {
        Marks {
            down: "|",
            arrow_in: "v",
            to: "->",
            more: "...",
        }
    } else {
        Marks {
            down: "│",
            arrow_in: "▼",
            to: "→",
            more: "…",
        }
    }
}

/// Columns left of the line down: the box's corner and one border character.
const DOWN_AT: usize = 2;
/// Between a box and the branches not taken beside it.
const GAP: usize = 2;

/// The flowchart of `verdict`'s path, `width` columns wide, one `Line` per row: for each
/// step a box with its number and title, the branch taken on the line down to the next
/// box, the other branches beside the box with the title of the step or verdict they
/// lead to; then the verdict's box. Nothing is wider than `width` once it is at least
/// a box's few columns; nothing is left to the paragraph to wrap.
pub fn lines(verdict: &Verdict, tree: &Tree, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let marks = marks(theme.ascii);
    // The branches not taken need room to say where they lead; on a narrow pane they
    // go under the box instead of beside it.
    let side = if width >= 60 { width * 9 / 20 } else { 0 };
    let box_width = width.saturating_sub(if side > 0 { side + GAP } else { 0 }).max(8);
    let inner = box_width - 4;
    let finding = verdict.finding();

    // The legend, indented as the line down it explains.
    let mut out: Vec<Line<'static>> = wrap(
        &say("flowchart", "legend", &[("down", marks.down), ("to", marks.to)]),
        width.saturating_sub(DOWN_AT),
    )
    .into_iter()
    .map(|l| Line::styled(format!("{}{l}", " ".repeat(DOWN_AT)), theme.dim()))
    .collect();

    let mut incoming = false;
    for (i, step) in verdict.steps.iter().enumerate() {
        let kind = if finding == Some(i) {
            Kind::Finding
        } else if step.unanswered {
            Kind::Pending
        } else {
            Kind::Step
        };
        let g = glyphs(kind, theme.ascii);
        let border = match kind {
            Kind::Finding => theme.bad(),
            Kind::Pending => theme.warn(),
            _ => Style::new(),
        };
        let lead = match kind {
            Kind::Finding => say("steps", "finding", &[]),
            Kind::Pending => say("flowchart", "pending_mark", &[]),
            _ => String::new(),
        };
        let number = format!("{}. ", i + 1);
        let body = wrap_hanging(
            &format!("{number}{lead}{}", clean(&theme.text(&step.title))),
            inner,
            number.width(),
        );
        let others: Vec<String> = not_taken(step, tree, marks.more)
            .into_iter()
            .map(|(answer, to)| format!("{answer} {} {}", marks.to, clean(&theme.text(&to))))
            .collect();

        // The box, the branches beside it from its first text row on.
        let mut rows: Vec<Vec<Span<'static>>> = Vec::new();
        rows.push(vec![Span::styled(
            top(&g, box_width, incoming.then_some(marks.arrow_in)),
            border,
        )]);
        for text in &body {
            rows.push(vec![
                Span::styled(g.vertical, border),
                Span::raw(" "),
                Span::styled(
                    pad(text, inner),
                    if kind == Kind::Finding {
                        theme.bad()
                    } else {
                        theme.title()
                    },
                ),
                Span::raw(" "),
                Span::styled(g.vertical, border),
            ]);
        }
        rows.push(vec![Span::styled(bottom(&g, box_width, true), border)]);
        let taken = taken(step, tree);
        rows.push(vec![
            Span::raw(" ".repeat(DOWN_AT)),
            Span::raw(marks.down),
            Span::raw(" "),
            Span::styled(
                truncate(
                    &clean(&theme.text(&taken)),
                    width.saturating_sub(DOWN_AT + 2),
                    marks.more,
                ),
                if kind == Kind::Pending {
                    theme.warn()
                } else {
                    theme.title()
                },
            ),
        ]);
        if side > 0 {
            // Beside the box's text rows and its bottom, so the line down keeps the
            // whole width for its label; a box grows a blank row for each branch that
            // would not fit beside it otherwise.
            while rows.len() - 2 < others.len() {
                let at = rows.len() - 2;
                rows.insert(
                    at,
                    vec![
                        Span::styled(g.vertical, border),
                        Span::raw(" ".repeat(inner + 2)),
                        Span::styled(g.vertical, border),
                    ],
                );
            }
            for (row, other) in rows[1..].iter_mut().zip(&others) {
                row.push(Span::raw(" ".repeat(GAP)));
                row.push(Span::styled(truncate(other, side, marks.more), theme.dim()));
            }
        } else {
            let connector = rows.pop().unwrap_or_default();
            for other in &others {
                rows.push(vec![
                    Span::raw(" ".repeat(DOWN_AT + 2)),
                    Span::styled(
                        truncate(other, width.saturating_sub(DOWN_AT + 2), marks.more),
                        theme.dim(),
                    ),
                ]);
            }
            rows.push(connector);
        }
        out.extend(rows.into_iter().map(Line::from));
        incoming = true;
    }

    // The leaf: the verdict, its family, owner and confidence, as wide as the pane
    // since nothing stands beside it.
    let g = glyphs(Kind::Leaf, theme.ascii);
    let box_width = width.max(8);
    let inner = box_width - 4;
    let style = match verdict.family {
        Family::Healthy => theme.good(),
        Family::Inconclusive => theme.warn(),
        _ => theme.bad(),
    };
    out.push(Line::styled(
        top(&g, box_width, incoming.then_some(marks.arrow_in)),
        style,
    ));
    let mut leaf = wrap(
        &say(
            "flowchart",
            "verdict",
            &[("title", &clean(&theme.text(&verdict.title)))],
        ),
        inner,
    );
    leaf.extend(wrap(
        &say(
            "flowchart",
            "verdict_meta",
            &[
                ("family", verdict.family.label()),
                ("owner", verdict.owner.label()),
                ("confidence", verdict.confidence.label()),
            ],
        ),
        inner,
    ));
    for (k, text) in leaf.iter().enumerate() {
        out.push(Line::from(vec![
            Span::styled(g.vertical, style),
            Span::raw(" "),
            Span::styled(pad(text, inner), if k == 0 { style } else { Style::new() }),
            Span::raw(" "),
            Span::styled(g.vertical, style),
        ]));
    }
    out.push(Line::styled(bottom(&g, box_width, false), style));
    out
}

/// The branch a step took, in words: the check's yes or no as Triage says it, the
/// operator's answer, or, for a question still open, that it is pending and which
/// branch the walk takes meanwhile.
fn taken(step: &Step, tree: &Tree) -> String {
    match &step.outcome {
        Outcome::Yes => super::triage::check_word(&step.node, true),
        Outcome::No => super::triage::check_word(&step.node, false),
        Outcome::Answer(_) => {
            let key = step.outcome.answer().unwrap_or_default();
            let label = numbered(tree, &step.node, key, step.answer_label(tree).unwrap_or_default());
            if step.unanswered {
                let count = tree.question_at(&step.node).map_or(0, |q| q.answers.len());
                let keys = format!("1-{count}");
                say("flowchart", "pending", &[("answer", &label), ("keys", &keys)])
            } else {
                label
            }
        }
    }
}

/// The edges of the step's node other than the one taken: (answer, where it leads). A
/// step whose node the tree no longer has (a session saved by an older version) has none.
fn not_taken(step: &Step, tree: &Tree, more: &str) -> Vec<(String, String)> {
    let Some(node) = tree.node(&step.node) else {
        return Vec::new();
    };
    let taken = step.outcome.to_string();
    let mut edges = Tree::edges(node);
    // A question's answers in the order the Verdict screen numbers them, not by key.
    if let Some(question) = tree.question_at(&node.id) {
        edges.sort_by_key(|(key, _)| question.answers.iter().position(|a| a.key == *key));
    }
    edges
        .into_iter()
        .filter(|(edge, _)| *edge != taken)
        .map(|(edge, next)| {
            let answer = match edge.as_str() {
                "yes" if node.check.is_some() => super::triage::check_word(&node.id, true),
                "no" if node.check.is_some() => super::triage::check_word(&node.id, false),
                // Triage's short form ends a cut label in `…`; ASCII has its own.
                key => numbered(
                    tree,
                    &node.id,
                    key,
                    &super::triage::short_answer(&node.id, key).replace('…', more),
                ),
            };
            let to = match tree.target(next) {
                Some(Target::Node(n)) => n.title.clone(),
                Some(Target::Verdict(v)) => say("flowchart", "verdict", &[("title", &v.title)]),
                None => next.to_string(),
            };
            (answer, to)
        })
        .collect()
}

/// An answer as the Verdict screen offers it, `2) TLS required`: two answers can start
/// alike once shortened, their numbers never do, and they are the keys that choose them.
fn numbered(tree: &Tree, node: &str, key: &str, label: &str) -> String {
    tree.question_at(node)
        .and_then(|q| q.answers.iter().position(|a| a.key == key))
        .map_or_else(|| label.to_string(), |i| format!("{}) {label}", i + 1))
}

/// A box's top border, with the arrow of the line coming down into it.
fn top(g: &Glyphs, width: usize, arrow: Option<&str>) -> String {
    let mut s = String::from(g.top_left);
    match arrow {
        Some(arrow) => {
            s.push_str(&g.horizontal.repeat(DOWN_AT - 1));
            s.push_str(arrow);
            s.push_str(&g.horizontal.repeat(width.saturating_sub(DOWN_AT + 2)));
        }
        None => s.push_str(&g.horizontal.repeat(width.saturating_sub(2))),
    }
    s.push_str(g.top_right);
    s
}

/// A box's bottom border, with the line going down out of it unless it is the leaf.
fn bottom(g: &Glyphs, width: usize, down: bool) -> String {
    let mut s = String::from(g.bottom_left);
    if down {
        s.push_str(&g.horizontal.repeat(DOWN_AT - 1));
        s.push_str(g.out);
        s.push_str(&g.horizontal.repeat(width.saturating_sub(DOWN_AT + 2)));
    } else {
        s.push_str(&g.horizontal.repeat(width.saturating_sub(2)));
    }
    s.push_str(g.bottom_right);
    s
}

/// Text without control characters, which would have no width and move the cursor.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `text` padded with spaces to `width` columns.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// `text` cut to `width` columns, ending in `more` when something was cut.
fn truncate(text: &str, width: usize, more: &str) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(more.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if more.width() <= width {
        out.push_str(more);
    }
    out
}

/// Greedy word wrap to `width` columns; a word longer than a row is cut across rows.
fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, 0)
}

/// As [`wrap`], with every row after the first indented by `hang` columns, so a
/// step's title lines up after its number.
fn wrap_hanging(text: &str, width: usize, hang: usize) -> Vec<String> {
    let width = width.max(1);
    let hang = if hang * 2 < width { hang } else { 0 };
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    let indent = |rows: &Vec<String>| if rows.is_empty() { 0 } else { hang };
    for word in text.split_whitespace() {
        let start = indent(&rows);
        let need = if row.is_empty() {
            word.width()
        } else {
            row.width() + 1 + word.width()
        };
        if start + need <= width {
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(word);
            continue;
        }
        if !row.is_empty() {
            rows.push(format!("{}{row}", " ".repeat(start)));
            row.clear();
        }
        // A word wider than a row: cut it into pieces that fit.
        let mut piece = String::new();
        for c in word.chars() {
            let start = indent(&rows);
            if start + piece.width() + c.to_string().width() > width && !piece.is_empty() {
                rows.push(format!("{}{piece}", " ".repeat(start)));
                piece.clear();
            }
            piece.push(c);
        }
        row = piece;
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(format!("{}{row}", " ".repeat(indent(&rows))));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let rows = wrap_hanging("1. Does this relay's resolver still hand out an MX set", 20, 3);
        assert!(rows.iter().all(|r| r.width() <= 20), "{rows:?}");
        assert!(rows[1..].iter().all(|r| r.starts_with("   ")), "{rows:?}");
        let words: Vec<&str> = rows.iter().flat_map(|r| r.split_whitespace()).collect();
        assert_eq!(
            words.join(" "),
            "1. Does this relay's resolver still hand out an MX set"
        );
        // A word longer than the row is cut, not lost or overflowing.
        let rows = wrap("abcdefghijklmnopqrstuvwxyz", 7);
        assert!(rows.iter().all(|r| r.width() <= 7), "{rows:?}");
        assert_eq!(rows.concat(), "abcdefghijklmnopqrstuvwxyz");
        assert_eq!(wrap("", 0), vec![String::new()]);
    }

    #[test]
    fn truncation_marks_the_cut_and_fits() {
        assert_eq!(truncate("short", 10, "…"), "short");
        assert_eq!(truncate("a longer text", 8, "…"), "a longe…");
        assert_eq!(truncate("a longer text", 8, "..."), "a lon...");
        assert_eq!(truncate("abc", 0, "..."), "");
    }
}
