//! A session's stages on a time line: one bar per stage in Detail, one strip per address
//! in the Triage matrix, so a slow greeting, a stall or a timeout shows at a glance.
//!
//! ```text
//! connect   █                       1 ms      (Detail: a row per stage, bars to scale)
//! greeting   ██████████████       4.02 s
//! EHLO                     █         2 ms
//! handshake                 xxxxxx 8.00 s     (the stage the session failed in)
//!
//!  cgggggggggggeshhhhtq 4.1 s                 (Triage: a letter per stage, to the
//!                                              scale of the slowest address)
//! ```
//! The letters and the failed stage's `x` carry the meaning without colour.

use ratatui::text::{Line, Span};

use super::Theme;
use crate::model::{ProbeResult, Stage, StageMark};

/// Columns of the stage names in Detail.
const LABEL: usize = 10;
/// Columns of the durations.
const DURATION: usize = 8;

/// One stage as it ran: from `start_ms` to `end_ms` after the connect started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub stage: Stage,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The session failed in this stage.
    pub failed: bool,
}

/// The stages of `marks` until `end_ms`, each lasting to the next mark; `Done` only
/// marks the end. `failed` marks the last stage.
pub fn bars(marks: &[StageMark], end_ms: u64, failed: bool) -> Vec<Bar> {
    let shown: Vec<&StageMark> = marks.iter().filter(|m| m.stage != Stage::Done).collect();
    let done = marks.iter().find(|m| m.stage == Stage::Done).map(|m| m.at_ms);
    shown
        .iter()
        .enumerate()
        .map(|(i, mark)| {
            let next = shown.get(i + 1).map(|m| m.at_ms).or(done).unwrap_or(end_ms);
            Bar {
                stage: mark.stage,
                start_ms: mark.at_ms,
                end_ms: next.max(mark.at_ms),
                failed: failed && i + 1 == shown.len(),
            }
        })
        .collect()
}

/// The bars of a finished session.
pub fn of_probe(probe: &ProbeResult) -> Vec<Bar> {
    bars(&probe.timings.stages, probe.timings.total_ms, probe.failure.is_some())
}

/// The short name of a stage, as it fits the Detail label column.
fn short(stage: Stage) -> &'static str {
    match stage {
        Stage::Connect => "connect",
        Stage::Greeting => "greeting",
        Stage::Ehlo => "EHLO",
        Stage::StartTls => "STARTTLS",
        Stage::TlsHandshake => "handshake",
        Stage::TlsEhlo => "TLS EHLO",
        Stage::Quit => "QUIT",
        Stage::Done => "done",
    }
}

/// The letter a stage is drawn with in a Triage strip.
fn letter(stage: Stage) -> char {
    match stage {
        Stage::Connect => 'c',
        Stage::Greeting => 'g',
        Stage::Ehlo => 'e',
        Stage::StartTls => 's',
        Stage::TlsHandshake => 'h',
        Stage::TlsEhlo => 't',
        Stage::Quit => 'q',
        Stage::Done => ' ',
    }
}

/// `12 ms`, `4.02 s`: milliseconds under a second, else seconds.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

/// The columns `[from, to)` of `start..end` on a bar `width` wide scaled to `scale_ms`;
/// at least one column, so a stage that took no time still shows where it was.
fn columns(start: u64, end: u64, scale_ms: u64, width: usize) -> (usize, usize) {
    let scale = scale_ms.max(1) as u128;
    let at = |ms: u64| ((ms as u128 * width as u128) / scale) as usize;
    let from = at(start).min(width.saturating_sub(1));
    let to = at(end).clamp(from + 1, width.max(from + 1));
    (from, to)
}

/// Detail's time line: a title row, then a row per stage with its bar and duration,
/// for a pane `width` columns wide.
pub fn rows(bars: &[Bar], width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let Some(end) = bars.iter().map(|b| b.end_ms).max() else {
        return Vec::new();
    };
    let (fill, broken) = if theme.ascii() { ('#', 'x') } else { ('█', 'x') };
    let room = width.saturating_sub(LABEL + DURATION + 1).max(4);
    let mut lines = vec![Line::styled(
        crate::tui::wording::say("address", "time_line", &[("total", &duration(end))]),
        theme.title(),
    )];
    for bar in bars {
        let (from, to) = columns(bar.start_ms, bar.end_ms, end, room);
        let glyph = if bar.failed { broken } else { fill };
        let style = if bar.failed { theme.bad() } else { theme.good() };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<LABEL$}", short(bar.stage)), theme.dim()),
            Span::raw(" ".repeat(from)),
            Span::styled(glyph.to_string().repeat(to - from), style),
            Span::raw(" ".repeat(room - to)),
            Span::styled(
                format!("{:>DURATION$}", duration(bar.end_ms - bar.start_ms)),
                theme.dim(),
            ),
        ]));
    }
    lines
}

/// A Triage strip: each stage's letter repeated over its share of `width` columns, to
/// the common scale `scale_ms` (the slowest address), then the session's length. Every
/// stage gets one column of its own and shares the rest, so a strip never outgrows
/// `width` (when the stages fit in it at all). A failed stage is drawn in `x` after its
/// letter; `running` says the last stage is still going.
pub fn strip(bars: &[Bar], scale_ms: u64, width: usize, running: bool, theme: &Theme) -> Line<'static> {
    let Some(end) = bars.iter().map(|b| b.end_ms).max() else {
        return Line::default();
    };
    let shared = width.saturating_sub(bars.len()) as u128;
    let scale = u128::from(scale_ms.max(end).max(1));
    let mut spans = vec![Span::raw("   ")];
    for bar in bars {
        let share = u128::from(bar.end_ms - bar.start_ms) * shared / scale;
        let cells = 1 + usize::try_from(share).unwrap_or(0);
        let text = if bar.failed {
            format!("{}{}", letter(bar.stage), "x".repeat(cells - 1))
        } else {
            letter(bar.stage).to_string().repeat(cells)
        };
        let style = if bar.failed {
            theme.bad()
        } else if running && bar.end_ms == end {
            theme.warn()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(text, style));
    }
    let suffix = match (running, theme.ascii()) {
        (false, _) => "",
        (true, false) => "…",
        (true, true) => "...",
    };
    spans.push(Span::styled(format!(" {}{suffix}", duration(end)), theme.dim()));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(stage: Stage, at_ms: u64) -> StageMark {
        StageMark { stage, at_ms }
    }

    #[test]
    fn each_stage_lasts_until_the_next_and_done_ends_the_last() {
        let marks = [
            mark(Stage::Connect, 0),
            mark(Stage::Greeting, 2),
            mark(Stage::Ehlo, 4002),
            mark(Stage::Done, 4010),
        ];
        let bars = bars(&marks, 4020, false);
        let spans: Vec<_> = bars.iter().map(|b| (b.stage, b.start_ms, b.end_ms)).collect();
        assert_eq!(
            spans,
            [
                (Stage::Connect, 0, 2),
                (Stage::Greeting, 2, 4002),
                (Stage::Ehlo, 4002, 4010)
            ]
        );
        assert!(bars.iter().all(|b| !b.failed));
    }

    #[test]
    fn a_failed_session_marks_its_last_stage_and_ends_at_its_total() {
        let marks = [mark(Stage::Connect, 0), mark(Stage::TlsHandshake, 10)];
        let bars = bars(&marks, 8010, true);
        assert_eq!(bars.last().map(|b| (b.end_ms, b.failed)), Some((8010, true)));
        assert!(!bars[0].failed);
    }

    #[test]
    fn a_strip_fits_its_width_however_slow_one_stage_is() {
        let marks = [
            mark(Stage::Connect, 0),
            mark(Stage::Greeting, 1),
            mark(Stage::Ehlo, 4001),
            mark(Stage::StartTls, 4002),
            mark(Stage::TlsHandshake, 4003),
            mark(Stage::TlsEhlo, 4010),
            mark(Stage::Quit, 4011),
            mark(Stage::Done, 4012),
        ];
        let theme = Theme::plain();
        let line = strip(&bars(&marks, 4012, false), 4012, 24, false, &theme);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        let cells = text.trim().split(' ').next().unwrap_or_default();
        // Rounding down may leave a column or two: never more than the width.
        assert!((22..=24).contains(&cells.chars().count()), "{text}");
        assert!(cells.starts_with("cg") && cells.ends_with("eshtq"), "{text}");
        // Half the time on the slowest address's scale: half the strip, about.
        let half = strip(&bars(&marks, 4012, false), 8024, 24, false, &theme);
        let text: String = half.spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(
            text.trim().split(' ').next().unwrap_or_default().chars().count() < 16,
            "{text}"
        );
    }

    #[test]
    fn columns_scale_and_never_vanish() {
        assert_eq!(columns(0, 1, 10_000, 20), (0, 1));
        assert_eq!(columns(5_000, 10_000, 10_000, 20), (10, 20));
        assert_eq!(columns(10_000, 10_000, 10_000, 20), (19, 20));
    }
}
